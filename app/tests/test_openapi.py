"""The OpenAPI document tells the truth: what it admits the server accepts, what it refuses the
server refuses, every route is in it with the role its view requires (issue 19)."""

from __future__ import annotations

import io
from typing import Any

import jsonschema_rs
import pytest
from conftest import new_sku
from flask import Flask
from openapi_spec_validator import validate

from stockroom.openapi import routes
from stockroom.schemas import MAX_QUANTITY


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    return app.test_client().get("/api/v1/openapi.json").get_json()  # type: ignore[no-any-return]


def admits(spec: dict[str, Any], model: str, body: Any) -> bool:
    """Whether the document's schema ``model`` admits ``body`` (the validator schemathesis uses)."""
    schema = {"$ref": f"#/components/schemas/{model}", "components": spec["components"]}
    return bool(jsonschema_rs.validator_for(schema).is_valid(body))


def create(api: Any, **fields: Any) -> dict[str, Any]:
    resp = api.post("/items", json={"sku": new_sku(), "name": "openapi", **fields})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def test_document_is_served_under_the_api_too(client: Any, spec: dict[str, Any]) -> None:
    assert client.get("/openapi.json").get_json() == spec
    validate(spec)  # OpenAPI 3.1


def test_every_route_is_documented_with_the_role_its_view_requires(
    app: Flask, spec: dict[str, Any]
) -> None:
    views = {
        key: view
        for key, view in routes(app).items()
        if key[0].startswith("/api/") or key[0] in ("/healthz", "/readyz", "/openapi.json")
    }
    documented = {(path, m) for path, methods in spec["paths"].items() for m in methods}
    assert set(views) == documented
    for (path, method), view in views.items():
        op = spec["paths"][path][method]
        role = getattr(view, "required_role", None)
        if role is None:
            assert op["security"] == [] and "401" not in op["responses"], (path, method)
        else:
            assert f"Role: {role} or higher." in op["description"], (path, method)
            assert {"401", "403"} <= set(op["responses"]), (path, method)


ITEM_BODIES = [
    # JSON Schema 2020-12 counts 1651.0 as an integer: so does the server; 1651.5 is no integer.
    ({"reorder_level": 1651.0}, True),
    ({"reorder_level": 1651.5}, False),
    ({"quantity": MAX_QUANTITY + 1}, False),
    ({"unit_cost": 0.07}, True),
    ({"unit_cost": 9999999999.99}, True),
    ({"unit_cost": "12.5"}, True),
    ({"unit_cost": 4057874175.2707458}, False),  # more than 2 decimals (and 12 digits)
    ({"unit_cost": 10000000000}, False),
    ({"unit_cost": "12.50\n"}, False),
    ({"unit_cost": True}, False),
    # White space is what either regex dialect (ECMA-262, Rust) calls white space.
    ({"name": "\u0085"}, False),
    ({"name": "\ufeff"}, False),
    ({"name": "\u3000 \t"}, False),
    ({"name": "\x1c"}, True),
    ({"unit": " kg "}, True),
    ({"sku": "A" * 65}, False),
]


@pytest.mark.parametrize(("fields", "valid"), ITEM_BODIES)
def test_document_and_server_agree_on_items(
    api: Any, spec: dict[str, Any], fields: dict[str, Any], valid: bool
) -> None:
    body = {"sku": new_sku(), "name": "agree", **fields}
    assert admits(spec, "ItemCreate", body) is valid
    resp = api.post("/items", json=body)
    assert resp.status_code == (201 if valid else 422), resp.get_json()
    if not valid:
        assert set(resp.get_json()["error"]["fields"]) == set(fields)
    patch_body = {k: v for k, v in fields.items() if k != "quantity"}
    if patch_body:
        assert admits(spec, "ItemUpdate", patch_body) is valid
        item = create(api)
        resp = api.patch(f"/items/{item['id']}", json=patch_body)
        assert resp.status_code == (200 if valid else 422), resp.get_json()


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"reason": "ship", "delta": 999999999999}, False),
        ({"reason": "ship", "delta": -1}, True),
        ({"reason": "receive", "delta": -1}, False),
        ({"reason": "return", "delta": 2}, True),
        ({"reason": "adjust", "delta": 0}, False),
        ({"reason": "count", "delta": 2.0}, True),
        ({"reason": "count", "delta": -2}, True),
        ({"reason": "steal", "delta": -2}, False),
        ({"delta": 2}, False),
    ],
)
def test_document_and_server_agree_on_the_sign_of_a_movement(
    api: Any, spec: dict[str, Any], body: dict[str, Any], valid: bool
) -> None:
    assert admits(spec, "MovementCreate", body) is valid
    item = create(api, quantity=5)
    resp = api.post(f"/items/{item['id']}/movements", json=body)
    assert resp.status_code == (201 if valid else 422), resp.get_json()
    if not valid:
        field = "delta" if "reason" in body and body["reason"] != "steal" else "reason"
        assert field in resp.get_json()["error"]["fields"]


def test_movement_schema_states_the_sign_per_reason(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    movement = schemas["MovementCreate"]
    mapping = movement["discriminator"]["mapping"]
    assert movement["discriminator"]["propertyName"] == "reason"
    # One schema per reason (schemathesis pins a discriminator value per schema).
    assert set(mapping) == {"receive", "return", "ship", "adjust", "count"}
    assert len(movement["oneOf"]) == len(set(mapping.values())) == 5
    variant = {r: schemas[ref.rsplit("/", 1)[1]] for r, ref in mapping.items()}
    assert all(variant[r]["properties"]["reason"]["const"] == r for r in variant)
    assert variant["receive"]["properties"]["delta"]["minimum"] == 1
    assert variant["return"]["properties"]["delta"]["minimum"] == 1
    assert variant["ship"]["properties"]["delta"]["maximum"] == -1
    assert variant["adjust"]["properties"]["delta"]["not"] == {"const": 0}
    assert variant["count"]["properties"]["delta"]["not"] == {"const": 0}
    assert "ship removes it (delta < 0)" in movement["description"]


def test_ship_with_a_positive_delta_names_the_rule(api: Any) -> None:
    item = create(api, quantity=5)
    resp = api.post(f"/items/{item['id']}/movements", json={"reason": "ship", "delta": 3})
    assert resp.get_json()["error"]["fields"] == {"delta": "a ship must be negative"}


@pytest.mark.parametrize("value", ["", "garbage", '"1', "1", '"x"', '"1", "2"'])
def test_malformed_if_match_is_400_naming_the_header(
    api: Any, spec: dict[str, Any], value: str
) -> None:
    item = create(api)
    resp = api.patch(f"/items/{item['id']}", json={"name": "x"}, headers={"If-Match": value})
    assert resp.status_code == 400, resp.get_json()
    assert list(resp.get_json()["error"]["fields"]) == ["If-Match"]
    (header,) = [
        p
        for p in spec["paths"]["/api/v1/items/{item_id}"]["patch"]["parameters"]
        if p["in"] == "header"
    ]
    assert header["name"] == "If-Match"
    pattern = jsonschema_rs.validator_for(header["schema"])
    assert not pattern.is_valid(value)
    assert all(pattern.is_valid(v) for v in ('"1"', 'W/"1"', "*"))


def test_well_formed_if_match_of_another_version_is_412(api: Any) -> None:
    item = create(api)
    resp = api.patch(f"/items/{item['id']}", json={"name": "x"}, headers={"If-Match": '"7"'})
    assert resp.status_code == 412


def test_csv_import_takes_only_utf8_text(api: Any, spec: dict[str, Any]) -> None:
    op = spec["paths"]["/api/v1/import/items"]["post"]
    assert set(op["requestBody"]["content"]) == {"text/csv; charset=utf-8", "multipart/form-data"}
    multipart = op["requestBody"]["content"]["multipart/form-data"]
    assert multipart["schema"]["properties"]["file"]["contentMediaType"] == "text/csv"
    assert "415" in op["responses"]
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    resp = api.post("/import/items", data={"file": (io.BytesIO(png), "x.png")})
    assert resp.status_code == 415 and "file" in resp.get_json()["error"]["fields"]
    for content_type in ("application/json", "text/csv; charset=latin-1"):
        resp = api.post("/import/items", data="sku,name\n", content_type=content_type)
        assert resp.status_code == 415, content_type
        assert "Content-Type" in resp.get_json()["error"]["fields"]
    # The part "file" may come as a plain form field as well as a file.
    field = {"file": f"sku,name\n{new_sku()},as field\n"}
    resp = api.post("/import/items", data=field, content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.get_json()["created"] == 1


@pytest.mark.parametrize(
    "query", ["low_stock=1", "low_stock=yes", "page=+5", "page=5.0", "page= 5"]
)
def test_query_values_are_what_the_document_says(api: Any, query: str) -> None:
    resp = api.get(f"/items?{query}")
    assert resp.status_code == 422
    assert list(resp.get_json()["error"]["fields"]) == [query.split("=", maxsplit=1)[0]]


def test_stock_over_the_maximum_is_a_conflict(api: Any) -> None:
    item = create(api, quantity=MAX_QUANTITY)
    resp = api.post(f"/items/{item['id']}/movements", json={"reason": "receive", "delta": 1})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["fields"] == {"delta": f"quantity limit is {MAX_QUANTITY}"}
