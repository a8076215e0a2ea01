"""CSV export/import: round trip, upsert, all-or-nothing validation."""

from __future__ import annotations

import csv
import io
from typing import Any

from conftest import new_sku

HEADER = "sku,name,description,category,location,unit,quantity,reorder_level,unit_cost"


def _export(api: Any) -> list[dict[str, str]]:
    resp = api.get("/export/items.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def test_round_trip_export_import(api: Any) -> None:
    cat = "csv-" + new_sku()
    rows = [
        f'{new_sku()},"Bolt, hex ""heavy""","multi\nline",{cat},A-01,pcs,10,2,1.25',
        f"{new_sku()},Ünïcödé ✓ item,,{cat},B-02,box,0,5,0",
    ]
    resp = api.post(
        "/import/items", data=HEADER + "\n" + "\n".join(rows) + "\n", content_type="text/csv"
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"created": 2, "updated": 0}
    exported = [r for r in _export(api) if r["category"] == cat]
    assert len(exported) == 2
    bolt = next(r for r in exported if r["name"].startswith("Bolt"))
    assert bolt["name"] == 'Bolt, hex "heavy"' and bolt["description"] == "multi\nline"
    assert bolt["quantity"] == "10" and bolt["unit_cost"] == "1.25"

    # Re-import the exported rows with changes: an upsert, quantity changes become movements.
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER.split(","), lineterminator="\n")
    writer.writeheader()
    for r in exported:
        writer.writerow(r | {"quantity": str(int(r["quantity"]) + 7), "location": "Z-99"})
    resp = api.post(
        "/import/items",
        data={"file": (io.BytesIO(buf.getvalue().encode()), "items.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200 and resp.get_json() == {"created": 0, "updated": 2}
    again = {r["sku"]: r for r in _export(api) if r["category"] == cat}
    for r in exported:
        assert again[r["sku"]] == r | {"quantity": str(int(r["quantity"]) + 7), "location": "Z-99"}
    item = api.get(f"/items?q={bolt['sku']}").get_json()["items"][0]
    moves = api.get(f"/items/{item['id']}/movements").get_json()["movements"]
    assert [(m["delta"], m["reason"]) for m in moves] == [(7, "count"), (10, "count")]


def test_import_is_all_or_nothing(api: Any) -> None:
    cat = "bad-" + new_sku()
    existing = api.post(
        "/items", json={"sku": new_sku(), "name": "keep", "category": cat}
    ).get_json()
    good = f"{new_sku()},fine,,{cat},,pcs,1,0,1.00"
    body = "\n".join(
        [
            HEADER,
            good,
            f"{existing['sku']},renamed,,{cat},,pcs,3,0,0",
            f"bad sku!,x,,{cat},,pcs,1,0,0",
            f"{new_sku()},,,{cat},,pcs,1,0,0",
            f"{new_sku()},neg,,{cat},,pcs,-4,0,0",
            f"{new_sku()},cost,,{cat},,pcs,1,0,1.999",
            good,
        ]
    )
    resp = api.post("/import/items", data=body, content_type="text/csv")
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    rows = err["fields"]["rows"]
    assert set(rows) == {"4", "5", "6", "7", "8"}
    assert "sku" in rows["4"] and "name" in rows["5"] and "quantity" in rows["6"]
    assert "unit_cost" in rows["7"] and "duplicate" in rows["8"]["sku"]
    # Nothing written: the valid rows were not imported and the existing item is unchanged.
    listed = api.get(f"/items?category={cat}").get_json()["items"]
    assert [(i["name"], i["quantity"]) for i in listed] == [("keep", 0)]


def test_import_bad_header_and_encoding(api: Any) -> None:
    assert (
        api.post("/import/items", data="foo,bar\n1,2\n", content_type="text/csv").status_code == 422
    )
    assert (
        api.post(
            "/import/items", data=b"sku,name\n\xff\xfe,x\n", content_type="text/csv"
        ).status_code
        == 415
    )
    assert api.post("/import/items", data="", content_type="text/csv").status_code == 422
