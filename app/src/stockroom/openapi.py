"""OpenAPI 3.1 document generated from the pydantic schemas in stockroom.schemas."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from stockroom import __version__
from stockroom import schemas as s

REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "Malformed request (e.g. invalid JSON)",
    "401": "Missing, invalid or revoked token",
    "403": "Role too low",
    "404": "Not found",
    "409": "Conflict (duplicate sku, insufficient stock, busy)",
    "412": "If-Match does not match the current version",
    "413": "Body too large",
    "414": "Request line too long (gunicorn rejects request lines over 4094 bytes, HTML body)",
    "415": "Unsupported media type",
    "422": "Validation failed",
    "503": "Database unavailable",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: dict[str, Any],
    errors: tuple[str, ...],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    secure: bool = True,
) -> dict[str, Any]:
    responses = dict(ok)
    for code in errors:
        responses[code] = {"description": ERRORS[code]} | _json(_ref("Error"))
    if params and any(p["in"] == "query" for p in params):
        # Answered by gunicorn before the app runs, so no JSON body is promised.
        responses["414"] = {"description": ERRORS["414"]}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if params:
        op["parameters"] = params
    if not secure:
        op["security"] = []
    return op


def _param(name: str, where: str, schema: dict[str, Any], desc: str = "") -> dict[str, Any]:
    p = {"name": name, "in": where, "schema": schema, "required": where == "path"}
    if desc:
        p["description"] = desc
    return p


def _components() -> dict[str, Any]:
    models = [
        (s.ItemCreate, "validation"),
        (s.MovementCreate, "validation"),
        (s.UserCreate, "validation"),
        (s.ItemOut, "serialization"),
        (s.ItemList, "serialization"),
        (s.MovementOut, "serialization"),
        (s.MovementList, "serialization"),
        (s.ImportResult, "serialization"),
        (s.Error, "serialization"),
        (s.Health, "serialization"),
        (s.Ready, "serialization"),
        (s.UserOut, "serialization"),
        (s.UserList, "serialization"),
    ]
    _, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = defs["$defs"]
    # ItemUpdate = ItemCreate's fields minus quantity, none required (null is not accepted).
    update = copy.deepcopy(schemas["ItemCreate"])
    update["title"] = "ItemUpdate"
    update["properties"].pop("quantity")
    for prop in update["properties"].values():
        prop.pop("default", None)
    update.pop("required", None)
    schemas["ItemUpdate"] = update
    schemas["Ready"]["properties"]["error"] = _ref("ErrorBody")
    return schemas


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    item_id = _param("item_id", "path", {"type": "integer", "minimum": 1})
    page = [
        _param("page", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
        _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 200}),
    ]
    list_params = [
        _param(
            "q",
            "query",
            {"type": "string", "maxLength": 200},
            "prefix of the SKU or of the name (case-insensitive)",
        ),
        _param("category", "query", {"type": "string", "maxLength": 64}),
        _param("location", "query", {"type": "string", "maxLength": 64}),
        _param("low_stock", "query", {"type": "boolean"}),
        _param("sort", "query", {"type": "string", "enum": list(s.SortKey.__args__)}),
        *page,
    ]
    item_ok = {
        "description": "The item (ETag = version)",
        "headers": {"ETag": {"schema": {"type": "string"}}},
    } | _json(_ref("ItemOut"))
    json_body = {"application/json": {"schema": _ref("ItemCreate")}}
    csv_body = {
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
    }
    auth = ("401", "403", "503")
    paths: dict[str, Any] = {
        "/healthz": {
            "get": _op(
                "Liveness (no database)",
                {"200": {"description": "Alive"} | _json(_ref("Health"))},
                (),
                secure=False,
            )
        },
        "/readyz": {
            "get": _op(
                "Readiness (database answers)",
                {
                    "200": {"description": "Ready"} | _json(_ref("Ready")),
                    "503": {"description": "Database unavailable"} | _json(_ref("Ready")),
                },
                (),
                secure=False,
            )
        },
        "/api/v1/items": {
            "get": _op(
                "List items",
                {"200": {"description": "A page of items"} | _json(_ref("ItemList"))},
                ("400", "422", *auth),
                params=list_params,
            ),
            "post": _op(
                "Create an item (initial quantity is recorded as a movement)",
                {
                    "201": {
                        "description": "Created",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    }
                    | _json(_ref("ItemOut"))
                },
                ("400", "409", "413", "422", *auth),
                body=json_body,
            ),
        },
        "/api/v1/items/{item_id}": {
            "parameters": [item_id],
            "get": _op("Get an item", {"200": item_ok}, ("404", *auth)),
            "patch": _op(
                "Update an item (any field but quantity); honours If-Match",
                {"200": item_ok},
                ("400", "404", "409", "412", "413", "422", *auth),
                body={"application/json": {"schema": _ref("ItemUpdate")}},
                params=[_param("If-Match", "header", {"type": "string"})],
            ),
            "delete": _op(
                "Delete an item and its movements",
                {"204": {"description": "Deleted"}},
                ("404", *auth),
            ),
        },
        "/api/v1/items/{item_id}/movements": {
            "parameters": [item_id],
            "get": _op(
                "Movements of an item, newest first",
                {"200": {"description": "A page of movements"} | _json(_ref("MovementList"))},
                ("404", "422", *auth),
                params=page,
            ),
            "post": _op(
                "Record a stock movement (atomic; never makes stock negative)",
                {"201": {"description": "Recorded"} | _json(_ref("MovementOut"))},
                ("400", "404", "409", "413", "422", *auth),
                body={"application/json": {"schema": _ref("MovementCreate")}},
            ),
        },
        "/api/v1/export/items.csv": {
            "get": _op(
                "Export every item as CSV (streamed)",
                {
                    "200": {
                        "description": "CSV",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    }
                },
                auth,
            )
        },
        "/api/v1/import/items": {
            "post": _op(
                "Import items from CSV (upsert by sku, all or nothing)",
                {"200": {"description": "Imported"} | _json(_ref("ImportResult"))},
                ("400", "413", "422", *auth),
                body=csv_body,
            )
        },
        "/api/v1/me": {
            "get": _op(
                "The calling user", {"200": {"description": "User"} | _json(_ref("UserOut"))}, auth
            )
        },
        "/api/v1/users": {
            "get": _op(
                "List users (admin)",
                {"200": {"description": "Users"} | _json(_ref("UserList"))},
                auth,
            ),
            "post": _op(
                "Create a user (admin)",
                {"201": {"description": "Created"} | _json(_ref("UserOut"))},
                ("400", "409", "413", "422", *auth),
                body={"application/json": {"schema": _ref("UserCreate")}},
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stockroom", "version": __version__},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
