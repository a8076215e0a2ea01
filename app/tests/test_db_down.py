"""Database outage: 503 database_unavailable fast, /healthz unaffected, recovery without restart.

The shared MariaDB keeps running; the app reaches it through a TCP proxy that the test turns off
(connection refused) or into a black hole (accepts, never answers), then back on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from conftest import app_env, mariadb_url
from flask import Flask
from tcpproxy import TcpProxy

from stockroom.app import create_app
from stockroom.db import READER
from stockroom.extensions import db

LIMIT = 2.0  # seconds: the API must answer within this while the database is gone


@pytest.fixture
def proxied(db_name: str, tokens: dict[str, str]) -> Iterator[tuple[Flask, TcpProxy]]:
    proxy = TcpProxy(("127.0.0.1", 3306))
    env = app_env(mariadb_url(db_name, proxy.port), STOCKROOM_DB_CONNECT_TIMEOUT="1")
    yield create_app(env=env), proxy
    proxy.close()


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("idle", [False, True], ids=["busy-pool", "idle-pool"])
@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_outage_and_recovery(
    proxied: tuple[Flask, TcpProxy], tokens: dict[str, str], mode: str, idle: bool
) -> None:
    app, proxy = proxied
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get("/api/v1/items?per_page=1", headers=auth).status_code == 200
    assert client.get("/readyz").status_code == 200

    proxy.down(mode)
    if idle:
        time.sleep(1.2)  # pooled connections now count as idle: checkout pings them first
    for _ in range(2):  # the first request finds dead pooled connections, the second a dead host
        resp, took = timed(lambda: client.get("/api/v1/items?per_page=1", headers=auth))
        assert resp.status_code == 503 and took < LIMIT, (resp.status_code, took)
        assert resp.get_json()["error"]["code"] == "database_unavailable"
        ready, took = timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503 and took < LIMIT, took
        assert ready.get_json()["error"]["code"] == "database_unavailable"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
    page, took = timed(lambda: client.get("/login"))
    assert page.status_code == 200  # the login page itself needs no database

    proxy.up()
    time.sleep(1.1)  # /readyz answers from a probe cached for 1 s (STOCKROOM_READY_CACHE_SECONDS)
    assert client.get("/readyz").status_code == 200
    resp = client.get("/api/v1/items?per_page=1", headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_reads_survive_a_pooled_connection_that_died(db_name: str, tokens: dict[str, str]) -> None:
    """GET requests read through the reader pool; when the server dropped its pooled connection
    (restart, failover, wait_timeout), the read is repeated on a new connection, not a 503."""
    app = create_app(env=app_env(mariadb_url(db_name)))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get("/api/v1/items?per_page=1", headers=auth).status_code == 200
    reader = app.extensions[READER]
    assert reader.pool.checkedin() == 1  # the one reader connection, back in the pool
    with reader.connect() as conn:
        victim = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    admin.cursor().execute(f"KILL {int(victim)}")
    admin.close()
    for path in ("/api/v1/items?per_page=1", "/api/v1/items/1"):
        assert client.get(path, headers=auth).status_code in (200, 404)
    with reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar() != victim


def test_movements_in_an_outage_answer_503_and_write_nothing(
    proxied: tuple[Flask, TcpProxy], tokens: dict[str, str]
) -> None:
    """A lost database is a fast 503 for a movement too, a pooled connection the server dropped
    costs at most one 503, and no movement is half applied."""
    app, proxy = proxied
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['editor']}"}
    made = client.post("/api/v1/items", json={"sku": f"DOWN-{time.time_ns()}", "name": "x",
                                              "quantity": 5}, headers=auth)  # fmt: skip
    assert made.status_code == 201, made.get_json()
    url = f"/api/v1/items/{made.get_json()['id']}/movements"
    move = {"delta": 1, "reason": "receive"}
    assert client.post(url, json=move, headers=auth).status_code == 201

    proxy.down("refuse")
    resp, took = timed(lambda: client.post(url, json=move, headers=auth))
    assert resp.status_code == 503 and took < LIMIT, (resp.status_code, took)
    assert resp.get_json()["error"]["code"] == "database_unavailable"
    proxy.up()

    # The server drops the connection the movement would use next.
    with app.app_context(), db.engine.connect() as conn:
        victim = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    admin.cursor().execute(f"KILL {int(victim)}")
    admin.close()
    statuses = [client.post(url, json=move, headers=auth).status_code for _ in range(3)]
    assert statuses[0] in (201, 503) and statuses[1:] == [201, 201], statuses
    item = client.get(url.rsplit("/", 1)[0], headers=auth).get_json()
    assert item["quantity"] == 6 + statuses.count(201)
