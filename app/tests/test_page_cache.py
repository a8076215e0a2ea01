"""The GET /items page cache (services/page_cache.py) on MariaDB: a page is served from it only
while no item changed through the app (API, web UI, CSV import), and for at most its max age."""

from __future__ import annotations

import time
from typing import Any

import pymysql
import pytest
from conftest import MARIADB, new_sku

from stockroom.services import items as svc
from stockroom.services.page_cache import Page, PageCache


def create(api: Any, **fields: Any) -> dict[str, Any]:
    resp = api.post("/items", json={"sku": new_sku(), "name": "Cached thing", **fields})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def listed(api: Any, query: str) -> tuple[dict[str, Any], int]:
    """(body, pages served from the cache by this request)."""
    hits = svc.PAGES.hits
    resp = api.get(f"/items?{query}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json(), svc.PAGES.hits - hits


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
    api: Any, db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(svc.PAGES, "max_age", 0.5)  # STOCKROOM_LIST_CACHE_SECONDS
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


def test_least_recently_used_pages_go_first_within_the_byte_budget() -> None:
    cache = PageCache(max_bytes=400, max_age=60)
    forever = float("inf")
    for n in range(4):
        cache.put(("q", n), Page(1, forever, "x" * 100, 1, True))
    assert cache.get(("q", 0)) is not None  # now the most recently used
    cache.put(("q", 4), Page(1, forever, "x" * 100, 1, True))
    assert cache.get(("q", 1)) is None and cache.get(("q", 0)) is not None
    cache.put(("big",), Page(1, forever, "x" * 101, 1, True))  # over a quarter: not kept
    assert cache.get(("big",)) is None


def test_a_page_with_an_older_total_expires_with_it() -> None:
    cache = PageCache(max_bytes=1000, max_age=60)
    cache.put(("q",), Page(1, time.monotonic() - 0.001, "[]", 1, True))
    assert cache.get(("q",)) is None
