"""The OpenAPI 3.1 document, generated from the pydantic models that validate the requests
(stockroom.schemas) and from the routes themselves: every operation below must be a route, and
the role it states is the one its view requires.

Why not apispec, spectree or flask-openapi3: the views would have to be rebuilt around them, and
the parts they cannot derive (the CSV upload, If-Match, JSON the database builds) would still be
written by hand here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from stockroom import __version__
from stockroom import schemas as s
from stockroom.services.csvio import COLUMNS, MAX_ROWS

REF = "#/components/schemas/{model}"
STATUS = {
    400: "Malformed request: a body that is not JSON, an upload without its part, or a malformed "
    "header (named in fields)",
    401: "Missing, invalid or revoked token (WWW-Authenticate: Bearer)",
    403: "Role too low",
    404: "Not found",
    409: "Conflict with the current state (duplicate sku, stock short or over the maximum, busy)",
    412: "If-Match names another version than the current one",
    413: "Body too large",
    # Answered by gunicorn (request lines over 4094 bytes) before the app runs: an HTML body.
    414: "Request line too long",
    415: "Unsupported media type, or an upload that is not UTF-8 text",
    422: "Validation failed; error.fields names each bad field",
    503: "Database unavailable",
}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "item_id": {"type": "integer", "minimum": 1},
    "username": s.UserCreate.model_json_schema()["properties"]["username"],
}
UTF8_CSV = "text/csv; charset=utf-8"
CSV_TEXT = {
    "type": "string",
    "contentMediaType": "text/csv",
    "description": f"UTF-8 CSV, at most {MAX_ROWS} rows. The header row names the columns, "
    f"any of {', '.join(COLUMNS)} (sku and name required); each row is checked like ItemCreate "
    "and the whole file is refused (422, the bad rows named) when one row is bad.",
}
CSV_UPLOAD = {
    UTF8_CSV: {"schema": CSV_TEXT},
    "multipart/form-data": {
        "schema": {"type": "object", "properties": {"file": CSV_TEXT}, "required": ["file"]},
        "encoding": {"file": {"contentType": UTF8_CSV}},
    },
}


@dataclass(frozen=True)
class Op:
    """One operation. 404 (path parameters), 400/413/422 (a body), 422/414 (a query) and
    401/403/503 (a role) are added where they apply; ``errors`` names the others."""

    summary: str
    ok: int = 200
    out: type[BaseModel] | dict[str, Any] | None = None  # model, {media type: schema}, or no body
    body: type[BaseModel] | dict[str, Any] | None = None  # model (JSON) or {media type: ...}
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    out_headers: tuple[str, ...] = ()
    description: str = ""
    also: tuple[int, ...] = ()  # other statuses answered with the same body as ``ok``


DOCUMENT = Op("This OpenAPI document", out={"application/json": {"type": "object"}})
ETAG = ("ETag",)
OPERATIONS: dict[str, dict[str, Op]] = {
    "/healthz": {"get": Op("Liveness (never touches the database)", out=s.Health)},
    "/readyz": {"get": Op("Readiness (the database answers)", out=s.Ready, also=(503,))},
    "/openapi.json": {"get": DOCUMENT},
    "/api/v1/openapi.json": {"get": DOCUMENT},
    "/api/v1/items": {
        "get": Op("List items", out=s.ItemList, query=s.ItemQuery),
        "post": Op(
            "Create an item", 201, s.ItemOut, s.ItemCreate, errors=(409,),
            out_headers=("ETag", "Location"),
            description="The initial quantity is recorded as a movement.",
        ),
    },
    "/api/v1/items/{item_id}": {
        "get": Op("Get an item", out=s.ItemOut, out_headers=ETAG),
        "patch": Op(
            "Update an item (any field but quantity)", out=s.ItemOut, body=s.ItemUpdate,
            headers=s.Preconditions, errors=(409, 412), out_headers=ETAG,
        ),
        "delete": Op("Delete an item and its movements", 204),
    },
    "/api/v1/items/{item_id}/movements": {
        "get": Op("Movements of an item, newest first", out=s.MovementList, query=s.PageQuery),
        "post": Op(
            "Record a stock movement", 201, s.MovementOut, s.MovementCreate, errors=(409,),
            description="Atomic; never makes the stock negative (409 insufficient_stock).",
        ),
    },
    "/api/v1/export/items.csv": {
        "get": Op("Export every item as CSV (streamed)", out={UTF8_CSV: {"type": "string"}})
    },
    "/api/v1/import/items": {
        "post": Op(
            "Import items from CSV (upsert by sku, all or nothing)", out=s.ImportResult,
            body=CSV_UPLOAD, errors=(415,),
        )
    },
    "/api/v1/me": {"get": Op("The calling user", out=s.UserOut)},
    "/api/v1/users": {
        "get": Op("List users", out=s.UserList),
        "post": Op("Create a user", 201, s.UserOut, s.UserCreate, errors=(409,)),
    },
    "/api/v1/users/{username}": {
        "patch": Op(
            "Activate or deactivate a user", out=s.UserOut, body=s.UserUpdate,
            description="Deactivating ends the user's sessions and revokes their tokens; "
            "nobody can deactivate themselves (422).",
        )
    },
}  # fmt: skip


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _params(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    out = []
    for name, prop in schema["properties"].items():
        # An optional parameter is left out, never sent as null.
        branches = [b for b in prop.pop("anyOf", [prop]) if b.get("type") != "null"]
        desc = prop.pop("description", "")
        if prop.get("default", "") is None:
            del prop["default"]
        param = {"name": name, "in": where, "required": False, "schema": branches[0] | prop}
        out.append(param | ({"description": desc} if desc else {}))
    return out


def _responses(op: Op, role: str | None, has_path_params: bool) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": op.summary}
    if isinstance(op.out, dict):
        ok["content"] = {media: {"schema": schema} for media, schema in op.out.items()}
    elif op.out is not None:
        ok |= _json(_ref(op.out))
    if op.out_headers:
        ok["headers"] = {h: {"schema": {"type": "string"}} for h in op.out_headers}
    responses = {str(op.ok): ok} | {
        str(code): ok | {"description": STATUS[code]} for code in op.also
    }
    codes = set(op.errors)
    codes |= {401, 403, 503} if role else set()
    codes |= {404} if has_path_params else set()
    codes |= {400, 413, 422} if op.body is not None else set()
    codes |= {422} if op.query is not None else set()
    for code in sorted(codes):
        responses[str(code)] = {"description": STATUS[code]} | _json(_ref(s.Error))
    if op.query is not None:
        responses["414"] = {"description": STATUS[414]}
    return responses


def _operation(op: Op, role: str | None, path_params: list[str]) -> dict[str, Any]:
    responses = _responses(op, role, bool(path_params))
    out: dict[str, Any] = {"summary": op.summary, "responses": responses}
    lines = [op.description] if op.description else []
    if role:
        lines.append(f"Role: {role} or higher.")
    else:
        out["security"] = []
    if lines:
        out["description"] = " ".join(lines)
    params = [
        {"name": p, "in": "path", "required": True, "schema": PATH_PARAMS[p]} for p in path_params
    ]
    if op.query is not None:
        params += _params(op.query, "query")
    if op.headers is not None:
        params += _params(op.headers, "header")
    if params:
        out["parameters"] = params
    if op.body is not None:
        content = (
            op.body
            if isinstance(op.body, dict)
            else {"application/json": {"schema": _ref(op.body)}}
        )
        out["requestBody"] = {"required": True, "content": content}
    return out


def openapi_path(rule: str) -> str:
    """/api/v1/items/<int:item_id> -> /api/v1/items/{item_id}"""
    parts = rule.replace("<", "{").replace(">", "}").split("{")
    return parts[0] + "".join("{" + p.split(":")[-1] for p in parts[1:])


def routes(app: Flask) -> dict[tuple[str, str], Any]:
    """(OpenAPI path, lower-case method) -> view function, for every route of the app."""
    out = {}
    for rule in app.url_map.iter_rules():
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            out[openapi_path(rule.rule), method.lower()] = app.view_functions[rule.endpoint]
    return out


def _components() -> dict[str, Any]:
    ops = [op for methods in OPERATIONS.values() for op in methods.values()]
    bodies = [(op.body, "validation") for op in ops if isinstance(op.body, type)]
    outs = [(op.out, "serialization") for op in ops if isinstance(op.out, type)]
    models = list(dict.fromkeys([*bodies, *outs, (s.Error, "serialization")]))
    _, defs = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
    return defs["$defs"]  # type: ignore[no-any-return]


def build_spec(app: Flask) -> dict[str, Any]:
    """The document for ``app``, built once (KeyError when an operation has no route)."""
    if (spec := app.extensions.get("stockroom.openapi")) is not None:
        return spec  # type: ignore[no-any-return]
    views = routes(app)
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        paths[path] = {
            method: _operation(op, getattr(views[path, method], "required_role", None), names)
            for method, op in methods.items()
        }
    spec = {
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
    return app.extensions.setdefault("stockroom.openapi", spec)  # type: ignore[no-any-return]
