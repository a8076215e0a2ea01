"""The GET /items page cache (services/page_cache.py) on MariaDB: a page is served from it only
while no item changed through the app (API, web UI, CSV import), and for at most its max age."""

from __future__ import annotations

import time
from typing import Any

import pymysql
import pytest
from conftest import MARIADB, Api, app_env, mariadb_url, new_sku
from flask import Flask

from stockroom.app import create_app
from stockroom.caches import KEY, Caches, init_app
from stockroom.config import load_settings
from stockroom.db import READER
from stockroom.services.page_cache import Page


def create(api: Any, **fields: Any) -> dict[str, Any]:
    resp = api.post("/items", json={"sku": new_sku(), "name": "Cached thing", **fields})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def listed(api: Any, query: str) -> tuple[dict[str, Any], int]:
    """(body, pages served from the cache by this request)."""
    pages = api.client.application.extensions[KEY].pages
    hits = pages.hits
    resp = api.get(f"/items?{query}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json(), pages.hits - hits


def quantities(body: dict[str, Any]) -> dict[int, int]:
    return {i["id"]: i["quantity"] for i in body["items"]}


def test_a_repeated_page_is_served_from_the_cache(api: Any) -> None:
    cat = "pc-" + new_sku()
    made = [create(api, category=cat, quantity=q) for q in (1, 2, 3)]
    first, hits = listed(api, f"category={cat}")
    assert hits == 0 and set(quantities(first)) == {m["id"] for m in made}
    again, hits = listed(api, f"category={cat}")
    assert hits == 1 and again == first


def test_every_change_through_the_app_is_seen_by_the_next_request(api: Any) -> None:
    cat = "pc-" + new_sku()
    a, b = create(api, category=cat, quantity=5), create(api, category=cat, quantity=7)
    query = f"category={cat}&sort=sku"
    listed(api, query)
    assert listed(api, query)[1] == 1  # cached now

    api.post(f"/items/{a['id']}/movements", json={"delta": -2, "reason": "ship"})
    body, hits = listed(api, query)
    assert hits == 0 and quantities(body)[a["id"]] == 3

    api.patch(f"/items/{b['id']}", json={"name": "Renamed"})
    body, _ = listed(api, query)
    assert [i["name"] for i in body["items"] if i["id"] == b["id"]] == ["Renamed"]

    header = "sku,name,description,category,location,unit,quantity,reorder_level,unit_cost"
    csv = f"{header}\n{a['sku']},Imported,,{cat},,pcs,9,0,1.00\n"
    resp = api.post("/import/items", data=csv, headers={"Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.get_json()
    body, _ = listed(api, query)
    assert [i["name"] for i in body["items"] if i["id"] == a["id"]] == ["Imported"]

    assert api.delete(f"/items/{a['id']}").status_code == 204
    body, _ = listed(api, query)
    assert set(quantities(body)) == {b["id"]}
    c = create(api, category=cat)
    body, _ = listed(api, query)
    assert set(quantities(body)) == {b["id"], c["id"]}


def test_a_change_made_outside_the_app_is_seen_after_the_max_age(
    db_name: str, tokens: dict[str, str]
) -> None:
    app = create_app(env=app_env(mariadb_url(db_name), STOCKROOM_LIST_CACHE_SECONDS="0.5"))
    api = Api(app.test_client(), tokens["editor"])
    cat = "pc-" + new_sku()
    item = create(api, category=cat, quantity=5)
    query = f"category={cat}"
    listed(api, query)
    conn = pymysql.connect(**MARIADB, database=db_name, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE items SET quantity = 42 WHERE id = %s", (item["id"],))
    finally:
        conn.close()
    # SQL by hand bumps no counter: the cached page stands until it is max_age (at most 1.5x) old.
    body, hits = listed(api, query)
    assert hits == 1 and quantities(body)[item["id"]] == 5
    time.sleep(0.8)
    body, hits = listed(api, query)
    assert hits == 0 and quantities(body)[item["id"]] == 42


def test_a_cached_page_total_follows_new_items(api: Any) -> None:
    cat = "pc-" + new_sku()
    for _ in range(3):
        create(api, category=cat)
    query = f"category={cat}&per_page=2"
    assert listed(api, query)[0]["total"] == 3
    assert listed(api, query)[1] == 1
    create(api, category=cat)
    body, hits = listed(api, query)
    assert hits == 0 and body["total"] == 4 and body["total_exact"] is True


def test_a_rolled_back_change_keeps_the_page(api: Any) -> None:
    cat = "pc-" + new_sku()
    item = create(api, category=cat, quantity=1)
    query = f"category={cat}"
    before, _ = listed(api, query)
    # Shipping more than is on hand rolls back (409): nothing changed, the page stays valid.
    resp = api.post(f"/items/{item['id']}/movements", json={"delta": -5, "reason": "ship"})
    assert resp.status_code == 409
    after, hits = listed(api, query)
    assert hits == 1 and after == before


def page_caches(max_bytes: int) -> Caches:
    mb = str(max_bytes / 1024 / 1024)
    return init_app(Flask(__name__), load_settings({"STOCKROOM_LIST_CACHE_MB": mb}))


def test_least_recently_used_pages_go_first_within_the_byte_budget() -> None:
    pages = page_caches(1024 * 1024).pages
    forever = float("inf")
    for n in range(4):
        pages.put(("q", n), Page(1, forever, "x" * 256 * 1024, 1, True))
    assert pages.get(("q", 0)) is not None  # now the most recently used
    pages.put(("q", 4), Page(1, forever, "x" * 256 * 1024, 1, True))
    assert pages.get(("q", 1)) is None and pages.get(("q", 0)) is not None
    pages.put(("big",), Page(1, forever, "x" * (1024 * 1024 + 1), 1, True))  # over the budget
    assert pages.get(("big",)) is None and pages.get(("q", 0)) is not None


def test_a_page_with_an_older_total_expires_with_it() -> None:
    pages = page_caches(1000).pages
    pages.put(("q",), Page(1, time.monotonic() - 0.001, "[]", 1, True))
    assert pages.get(("q",)) is None


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "mariadb+pymysql"])
def test_a_mariadb_url_gets_the_reader_pool_and_the_page_cache(
    db_name: str, tokens: dict[str, str], scheme: str
) -> None:
    """SQLAlchemy names the dialect of a mariadb+pymysql:// URL "mariadb", not "mysql": the app
    must serve it exactly like mysql+pymysql:// (reader pool, JSON built by the database, page
    cache, movements reporting their quantity through LAST_INSERT_ID)."""
    url = mariadb_url(db_name).replace("mysql+pymysql", scheme, 1)
    app = create_app(env=app_env(url))
    api = Api(app.test_client(), tokens["editor"])
    assert READER in app.extensions
    cat = "pc-" + new_sku()
    item = create(api, category=cat, quantity=2)
    first, _ = listed(api, f"category={cat}")
    assert listed(api, f"category={cat}") == (first, 1)
    move = api.post(f"/items/{item['id']}/movements", json={"delta": 3, "reason": "receive"})
    assert move.status_code == 201 and move.get_json()["quantity_after"] == 5
    body, hits = listed(api, f"category={cat}")
    assert hits == 0 and quantities(body) == {item["id"]: 5}
    got = api.get(f"/items/{item['id']}")
    assert got.get_json() == body["items"][0] and got.headers["ETag"] == '"2"'
