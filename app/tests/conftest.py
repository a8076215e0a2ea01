"""Fixtures: a throw-away MariaDB database per run, the app, tokens per role, a live gunicorn."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from stockroom.app import create_app
from stockroom.extensions import db
from stockroom.migrate import upgrade
from stockroom.services import users

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
BIN = Path(sys.executable).parent
ROLES = ("viewer", "editor", "admin")


def mariadb_url(name: str, port: int = 3306) -> str:
    return f"mysql+pymysql://root@127.0.0.1:{port}/{name}?charset=utf8mb4"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


class ThrowAwayDatabases:
    """Creates uniquely named databases and drops them all at the end of the run."""

    def __init__(self) -> None:
        self.prefix = f"srtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.names: list[str] = []
        try:
            self.conn = pymysql.connect(**MARIADB, autocommit=True, connect_timeout=3)
        except pymysql.MySQLError as exc:  # a missing database server is a failure, never a skip
            pytest.fail(
                f"MariaDB on 127.0.0.1:3306 is required (scripts/services.sh mariadb-up): {exc}"
            )

    def create(self, suffix: str) -> str:
        name = f"{self.prefix}_{suffix}"
        with self.conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        self.names.append(name)
        return name

    def drop_all(self) -> None:
        with self.conn.cursor() as cur:
            for name in self.names:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        self.conn.close()


@pytest.fixture(scope="session")
def databases() -> Iterator[ThrowAwayDatabases]:
    dbs = ThrowAwayDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def db_name(databases: ThrowAwayDatabases) -> str:
    return databases.create("main")


def app_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "STOCKROOM_ENV": "testing",
        "STOCKROOM_DATABASE_URL": url,
        "STOCKROOM_SECRET_KEY": "test-secret-key-0123456789",
        "STOCKROOM_TOKEN_CACHE_SECONDS": "0",
        "STOCKROOM_COUNT_CACHE_SECONDS": "0",
        "STOCKROOM_NODE_NAME": "test-node",
        "STOCKROOM_LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.fixture(scope="session")
def app(db_name: str) -> Iterator[Flask]:
    application = create_app({"WTF_CSRF_ENABLED": False}, env=app_env(mariadb_url(db_name)))
    with application.app_context():
        upgrade(db.engine)  # migrations from an empty database
    yield application


@pytest.fixture(scope="session")
def tokens(app: Flask) -> dict[str, str]:
    out: dict[str, str] = {}
    with app.app_context():
        for role in ROLES:
            users.create_user(db.session, f"t-{role}", role, "password-123")
            out[role] = users.create_token(db.session, f"t-{role}", "tests")
        db.session.remove()
    return out


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Api:
    """Test-client wrapper that adds the bearer token of a role."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def __getattr__(self, method: str) -> Any:
        def call(path: str, **kw: Any) -> Any:
            headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
            return getattr(self.client, method)("/api/v1" + path, headers=headers, **kw)

        return call


@pytest.fixture
def api(client: FlaskClient, tokens: dict[str, str]) -> Api:
    return Api(client, tokens["editor"])


@pytest.fixture
def api_as(client: FlaskClient, tokens: dict[str, str]) -> Any:
    return lambda role: Api(client, tokens[role])


def new_sku() -> str:
    return "T-" + secrets.token_hex(6).upper()


@contextmanager
def gunicorn(url: str, **extra: str) -> Iterator[str]:
    """gunicorn (2 workers x 8 threads), production mode, on database ``url``: its base URL."""
    port = free_port()
    env = {**os.environ, **app_env(url), "STOCKROOM_ENV": "production", **extra}
    cmd = [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "8"]
    cmd += ["-k", "gthread", "--graceful-timeout", "2", "stockroom.wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/readyz")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def live_server(app: Flask, db_name: str, tokens: dict[str, str]) -> Iterator[dict[str, Any]]:
    """gunicorn serving the test database."""
    with gunicorn(mariadb_url(db_name), STOCKROOM_NODE_NAME="live-node") as base:
        yield {"url": base, "tokens": tokens}
