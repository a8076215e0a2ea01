"""JSON API behaviour on MariaDB: CRUD, validation, authorisation matrix, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import new_sku
from sqlalchemy import create_engine, text

from stockroom.config import GROUP_CONCAT_MAX_LEN
from stockroom.extensions import db
from stockroom.schemas import ItemQuery
from stockroom.services import item_list as svc


def create(api: Any, **fields: Any) -> dict[str, Any]:
    body = {"sku": new_sku(), "name": "Test item", **fields}
    resp = api.post("/items", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_create_get_and_initial_movement(api: Any) -> None:
    resp = api.post(
        "/items",
        json={
            "sku": (sku := new_sku()),
            "name": "Hex bolt M8 ✓",
            "category": "Fasteners",
            "quantity": 12,
            "reorder_level": 5,
            "unit_cost": "0.35",
        },
    )
    assert resp.status_code == 201
    item = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/items/{item['id']}"
    assert resp.headers["ETag"] == '"1"'
    assert item["sku"] == sku and item["quantity"] == 12 and item["unit_cost"] == "0.35"
    assert item["low_stock"] is False and item["version"] == 1
    assert item["created_at"].endswith("Z")
    got = api.get(f"/items/{item['id']}")
    assert got.status_code == 200 and got.get_json() == item
    moves = api.get(f"/items/{item['id']}/movements").get_json()["movements"]
    assert [(m["delta"], m["reason"], m["quantity_after"]) for m in moves] == [(12, "receive", 12)]
    assert moves[0]["user"] == "t-editor"


def test_duplicate_sku_is_409(api: Any) -> None:
    item = create(api)
    resp = api.post("/items", json={"sku": item["sku"], "name": "again"})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "duplicate_sku"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "no sku"}, "sku"),
        ({"sku": "has space", "name": "x"}, "sku"),
        ({"sku": "x" * 65, "name": "x"}, "sku"),
        ({"sku": "OK-1", "name": ""}, "name"),
        ({"sku": "OK-1", "name": "   "}, "name"),
        ({"sku": "OK-1", "name": "n" * 201}, "name"),
        ({"sku": "OK-1", "name": "x", "quantity": -1}, "quantity"),
        ({"sku": "OK-1", "name": "x", "quantity": "5"}, "quantity"),
        ({"sku": "OK-1", "name": "x", "quantity": 1.5}, "quantity"),
        ({"sku": "OK-1", "name": "x", "reorder_level": -3}, "reorder_level"),
        ({"sku": "OK-1", "name": "x", "unit_cost": "-1"}, "unit_cost"),
        ({"sku": "OK-1", "name": "x", "unit_cost": "1.234"}, "unit_cost"),
        ({"sku": "OK-1", "name": "x", "unit_cost": "abc"}, "unit_cost"),
        ({"sku": "OK-1", "name": "x", "colour": "red"}, "colour"),
        ({"sku": "OK-1", "name": "x", "quantity": 10**13}, "quantity"),
    ],
)
def test_create_validation(api: Any, body: dict[str, Any], field: str) -> None:
    resp = api.post("/items", json=body)
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed"
    assert field in err["fields"]
    assert api.get("/items?q=OK-1").get_json()["items"] == []


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"\xff\xfe", b'{"name": "\\ud800"}'])
def test_malformed_json_is_400(api: Any, raw: bytes) -> None:
    resp = api.post("/items", data=raw, content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "malformed_request"


def test_non_object_json_is_422(api: Any) -> None:
    resp = api.post("/items", json=[1, 2])
    assert resp.status_code == 422


def test_patch_with_if_match(api: Any) -> None:
    item = create(api, reorder_level=1)
    path = f"/items/{item['id']}"
    resp = api.patch(
        path, json={"name": "Renamed", "reorder_level": 50}, headers={"If-Match": '"1"'}
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["name"] == "Renamed" and body["version"] == 2 and body["low_stock"] is True
    assert resp.headers["ETag"] == '"2"'
    stale = api.patch(path, json={"name": "Lost update"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "precondition_failed"
    assert api.get(path).get_json()["name"] == "Renamed"
    assert api.patch(path, json={"name": "Any"}, headers={"If-Match": "*"}).status_code == 200


def test_patch_rejects_quantity_and_nulls(api: Any) -> None:
    item = create(api, quantity=3)
    path = f"/items/{item['id']}"
    resp = api.patch(path, json={"quantity": 100})
    assert resp.status_code == 422
    assert "movements" in resp.get_json()["error"]["fields"]["quantity"]
    assert api.patch(path, json={"name": None}).status_code == 422
    assert api.get(path).get_json()["quantity"] == 3


def test_patch_duplicate_sku_conflict(api: Any) -> None:
    a, b = create(api), create(api)
    resp = api.patch(f"/items/{b['id']}", json={"sku": a["sku"]})
    assert resp.status_code == 409


def test_delete(api: Any) -> None:
    item = create(api, quantity=2)
    assert api.delete(f"/items/{item['id']}").status_code == 204
    assert api.get(f"/items/{item['id']}").status_code == 404
    assert api.delete(f"/items/{item['id']}").status_code == 404


def test_movements_and_insufficient_stock(api: Any) -> None:
    item = create(api, quantity=5)
    path = f"/items/{item['id']}/movements"
    resp = api.post(path, json={"delta": -3, "reason": "ship", "note": "order 17"})
    assert resp.status_code == 201
    move = resp.get_json()
    assert move["quantity_after"] == 2 and move["delta"] == -3 and move["note"] == "order 17"
    resp = api.post(path, json={"delta": -3, "reason": "ship"})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "insufficient_stock"
    after = api.get(f"/items/{item['id']}").get_json()
    assert after["quantity"] == 2 and after["version"] == 2  # nothing written by the 409
    assert len(api.get(path).get_json()["movements"]) == 2
    last = api.post(path, json={"delta": -2, "reason": "ship"}).get_json()
    assert last["quantity_after"] == 0  # the last units: 0 is reported as 0, not "no value"
    assert api.get(f"/items/{item['id']}").get_json()["quantity"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"delta": 0, "reason": "adjust"},
        {"delta": 1, "reason": "steal"},
        {"delta": "1", "reason": "receive"},
        {"delta": 1},
        {"delta": 1, "reason": "receive", "note": "n" * 501},
        {"delta": 10**15, "reason": "receive"},
    ],
)
def test_movement_validation(api: Any, body: dict[str, Any]) -> None:
    item = create(api, quantity=1)
    resp = api.post(f"/items/{item['id']}/movements", json=body)
    assert resp.status_code == 422
    assert api.get(f"/items/{item['id']}").get_json()["quantity"] == 1


def test_not_found_and_method_errors_are_json(api: Any) -> None:
    for resp, status in [
        (api.get("/items/999999999"), 404),
        (api.post("/items/999999999/movements", json={"delta": 1, "reason": "receive"}), 404),
        (api.get("/items/999999999/movements"), 404),
        (api.get("/nowhere"), 404),
        (api.put("/items/1", json={}), 405),
    ]:
        assert resp.status_code == status
        assert resp.is_json and resp.get_json()["error"]["code"]


def test_list_filters_sort_and_pagination(api: Any) -> None:
    cat = "cat-" + new_sku()
    made = [
        create(api, category=cat, location="L1", quantity=q, reorder_level=5, name=f"Thing {q:02d}")
        for q in (1, 9, 3, 20, 7)
    ]
    resp = api.get(f"/items?category={cat}&sort=-quantity&per_page=2")
    body = resp.get_json()
    assert body["total"] == 5 and body["total_exact"] is True and body["per_page"] == 2
    assert [i["quantity"] for i in body["items"]] == [20, 9]
    page3 = api.get(f"/items?category={cat}&sort=-quantity&per_page=2&page=3").get_json()
    assert [i["quantity"] for i in page3["items"]] == [1]
    low = api.get(f"/items?category={cat}&low_stock=true&sort=quantity").get_json()
    assert [i["quantity"] for i in low["items"]] == [1, 3]
    not_low = api.get(f"/items?category={cat}&low_stock=false").get_json()
    assert sorted(i["quantity"] for i in not_low["items"]) == [7, 9, 20]
    by_sku = api.get(f"/items?q={made[2]['sku'][:8]}&category={cat}").get_json()
    assert made[2]["sku"] in [i["sku"] for i in by_sku["items"]]
    by_name = api.get(f"/items?q=thing 2&category={cat}").get_json()
    assert [i["quantity"] for i in by_name["items"]] == [20]
    # Prefix, not substring: both prefixes are index range scans at 1M rows.
    assert api.get(f"/items?q=hing&category={cat}").get_json()["items"] == []
    assert api.get("/items?q=%25&category=none-such").get_json()["items"] == []


TRICKY_TEXT = 'quote " backslash \\ newline\n tab\t ctrl\x01 <b>&amp;</b> ✓ 😀 \u2028'


def test_list_items_match_get_item(api: Any) -> None:
    """On MariaDB list pages and GET /items/{id} are built by the database (JSON_OBJECT): every
    field must equal what the write endpoints build in Python (a PATCH without changes answers
    with the current item), escaping and formats included."""
    cat = "json-" + new_sku()
    made = [
        create(api, category=cat, description=TRICKY_TEXT, name='Ünïcode ✓ "x"', unit_cost="0.5"),
        create(api, category=cat, quantity=3, reorder_level=3, unit_cost="1234567890.99"),
        create(api, category=cat, quantity=9, reorder_level=2, location="Shelf \\ 7"),
    ]
    assert api.post(f"/items/{made[1]['id']}/movements", json={"delta": 1, "reason": "receive"})
    listed = api.get(f"/items?category={cat}&sort=-updated_at").get_json()["items"]
    assert {i["id"] for i in listed} == {m["id"] for m in made}
    for item in listed:
        python_built = api.patch(f"/items/{item['id']}", json={}).get_json()
        assert item == api.get(f"/items/{item['id']}").get_json() == python_built
    by_id = {i["id"]: i for i in listed}
    assert by_id[made[0]["id"]]["description"] == TRICKY_TEXT
    assert by_id[made[0]["id"]]["unit_cost"] == "0.50"
    assert [by_id[m["id"]]["low_stock"] for m in made] == [True, False, False]
    assert listed[0]["id"] == made[1]["id"]  # the latest movement made it the newest


@pytest.mark.parametrize("path", ["session", "reader"])
def test_list_falls_back_when_the_database_cuts_the_page_short(
    app: Any, api: Any, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """A page longer than group_concat_max_len comes back cut short by the database; the
    service must notice and answer from the row-by-row path, not send broken JSON. Both ways
    in: the session (tests, CLI) and the API's reader pool."""
    cat = "cut-" + new_sku()
    made = [create(api, category=cat, description="x" * 1500) for _ in range(3)]
    monkeypatch.setattr(svc, "GROUP_CONCAT_MAX_LEN", 2048)
    limit = "SET SESSION group_concat_max_len = 2048"
    with app.app_context():
        if path == "session":
            conn = db.session.connection()
            conn.execute(text(limit))
            docs, total, exact = svc.list_item_docs(conn, ItemQuery(category=cat))
            db.session.execute(text(f"SET SESSION group_concat_max_len = {GROUP_CONCAT_MAX_LEN}"))
            db.session.remove()
        else:
            engine = create_engine(db.engine.url, connect_args={"init_command": limit})
            docs, total, exact = svc.list_item_docs(engine, ItemQuery(category=cat))
            engine.dispose()
    items = json.loads("[" + docs + "]")  # a cut-short text would not parse
    assert [i["sku"] for i in items] == sorted(m["sku"] for m in made)
    assert items[0]["description"] == "x" * 1500 and (total, exact) == (3, True)


@pytest.mark.parametrize(
    "query", ["page=0", "per_page=201", "per_page=0", "sort=price", "page=x", "low_stock=maybe"]
)
def test_list_query_validation(api: Any, query: str) -> None:
    resp = api.get("/items?" + query)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "validation_failed"


# Authorisation matrix: (method, path template, json body, minimum role)
MATRIX = [
    ("get", "/items", None, "viewer"),
    ("get", "/items/{id}", None, "viewer"),
    ("get", "/items/{id}/movements", None, "viewer"),
    ("get", "/export/items.csv", None, "viewer"),
    ("get", "/me", None, "viewer"),
    ("post", "/items", {"sku": "AUTHZ-{n}", "name": "authz"}, "editor"),
    ("patch", "/items/{id}", {"description": "authz"}, "editor"),
    ("post", "/items/{id}/movements", {"delta": 1, "reason": "receive"}, "editor"),
    ("post", "/import/items", None, "editor"),
    ("delete", "/items/{id}", None, "editor"),
    ("get", "/users", None, "admin"),
    ("post", "/users", {"username": "u-{n}", "role": "viewer", "password": "password-1"}, "admin"),
]
LEVEL = {"viewer": 0, "editor": 1, "admin": 2}


@pytest.mark.parametrize(("method", "path", "body", "needed"), MATRIX)
@pytest.mark.parametrize("role", [None, "bad", "viewer", "editor", "admin"])
def test_authz_matrix(  # noqa: PLR0917 - pytest passes parametrized values positionally
    api: Any, api_as: Any, client: Any, method: str, path: str, body: Any, needed: str, role: Any
) -> None:
    item = create(api, quantity=1)
    n = new_sku()
    url = path.format(id=item["id"])
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs["json"] = {k: v.format(n=n) if isinstance(v, str) else v for k, v in body.items()}
    if url == "/import/items":
        kwargs["data"] = f"sku,name\nAUTHZ-{n},imported\n"
        kwargs["content_type"] = "text/csv"
    if role is None:
        resp = getattr(client, method)("/api/v1" + url, **kwargs)
    elif role == "bad":
        resp = getattr(client, method)(
            "/api/v1" + url, headers={"Authorization": "Bearer sr_not-a-token"}, **kwargs
        )
    else:
        resp = getattr(api_as(role), method)(url, **kwargs)
    if role in (None, "bad"):
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    elif LEVEL[role] < LEVEL[needed]:
        assert resp.status_code == 403
        assert resp.get_json()["error"]["code"] == "forbidden"
    else:
        assert resp.status_code in (200, 201, 204), resp.get_data(as_text=True)[:300]


def test_openapi_document(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/items/{item_id}/movements" in spec["paths"]
    for name in ("ItemCreate", "ItemUpdate", "ItemOut", "MovementCreate", "Error"):
        assert name in spec["components"]["schemas"]
    assert "quantity" not in spec["components"]["schemas"]["ItemUpdate"]["properties"]


def test_healthz_and_readyz(client: Any) -> None:
    health = client.get("/healthz").get_json()
    assert health == {"status": "ok", "node": "test-node", "version": "1.0.0"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"


@pytest.mark.parametrize(
    ("delta", "reason", "status"),
    [
        (-1, "receive", 422),
        (-1, "return", 422),
        (1, "ship", 422),
        (-1, "adjust", 201),
        (1, "count", 201),
    ],
)
def test_movement_sign_must_match_reason(api: Any, delta: int, reason: str, status: int) -> None:
    item = create(api, quantity=5)
    resp = api.post(f"/items/{item['id']}/movements", json={"delta": delta, "reason": reason})
    assert resp.status_code == status
    if status == 422:
        assert "delta" in resp.get_json()["error"]["fields"]
