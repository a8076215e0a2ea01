"""Baseline for the benchmark: the least a Flask app can do to serve one row by id, and one
filtered page of rows the way a plain Flask app would (rows decoded by the driver, jsonify).

Raw PyMySQL, one connection per gunicorn thread, no ORM, no auth, no validation, no count.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pymysql
from flask import Flask, abort, jsonify, request

app = Flask(__name__)
_local = threading.local()
COLUMNS = "id, sku, name, category, location, quantity, reorder_level, unit_cost, version"


def _conn() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = pymysql.connect(
            host=os.environ.get("BASELINE_DB_HOST", "127.0.0.1"),
            port=int(os.environ.get("BASELINE_DB_PORT", "3306")),
            user=os.environ.get("BASELINE_DB_USER", "root"),
            password=os.environ.get("BASELINE_DB_PASSWORD", ""),
            database=os.environ["BASELINE_DB_NAME"],
            charset="utf8mb4",
            autocommit=True,
            cursorclass=pymysql.cursors.DictCursor,
        )
        _local.conn = conn
    return conn


@app.get("/items/<int:item_id>")
def get_item(item_id: int) -> Any:
    with _conn().cursor() as cur:
        cur.execute(f"SELECT {COLUMNS} FROM items WHERE id = %s", (item_id,))  # noqa: S608
        row = cur.fetchone()
    if row is None:
        abort(404)
    row["unit_cost"] = str(row["unit_cost"])
    return jsonify(row)


LIST_COLUMNS = (
    "id, sku, name, description, category, location, unit, quantity, reorder_level, unit_cost,"
    " low_stock, version, created_at, updated_at"
)


@app.get("/items")
def list_items() -> Any:
    per_page = int(request.args.get("per_page", "50"))
    offset = (int(request.args.get("page", "1")) - 1) * per_page
    with _conn().cursor() as cur:
        cur.execute(
            f"SELECT {LIST_COLUMNS} FROM items WHERE category = %s"  # noqa: S608
            " ORDER BY sku LIMIT %s OFFSET %s",
            (request.args["category"], per_page, offset),
        )
        rows = cur.fetchall()
    for row in rows:
        row["unit_cost"] = str(row["unit_cost"])
        row["low_stock"] = bool(row["low_stock"])
        row["created_at"] = row["created_at"].isoformat() + "Z"
        row["updated_at"] = row["updated_at"].isoformat() + "Z"
    return jsonify(items=rows)
