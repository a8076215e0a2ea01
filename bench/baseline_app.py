"""Baseline for the benchmark: the least a Flask app can do to serve one row by id.

Raw PyMySQL, one connection per gunicorn thread, no ORM, no auth, no validation.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pymysql
from flask import Flask, abort, jsonify

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
