"""Web UI with CSRF enabled (test client on MariaDB): login, CSRF, roles, pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import app_env, mariadb_url, new_sku
from flask import Flask
from flask.testing import FlaskClient

from stockroom.app import create_app
from stockroom.extensions import db
from stockroom.services import users


@pytest.fixture(scope="module")
def web_app(app: Flask, db_name: str) -> Iterator[Flask]:
    web = create_app(env=app_env(mariadb_url(db_name)))  # CSRF on, as in production
    with web.app_context():
        for role in ("viewer", "editor"):
            users.create_user(db.session, f"web-{role}", role, "web-password-1")
        db.session.remove()
    yield web


def csrf(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(client: FlaskClient, role: str) -> None:
    resp = client.post(
        "/login",
        data={
            "username": f"web-{role}",
            "password": "web-password-1",
            "csrf_token": csrf(client, "/login"),
        },
    )
    assert resp.status_code == 302


def test_login_required_and_csrf(web_app: Flask) -> None:
    client = web_app.test_client()
    assert client.get("/items").status_code == 302
    no_token = client.post("/login", data={"username": "web-editor", "password": "web-password-1"})
    assert no_token.status_code == 400  # CSRF missing
    bad = client.post(
        "/login",
        data={"username": "web-editor", "password": "nope", "csrf_token": csrf(client, "/login")},
    )
    assert bad.status_code == 401
    login(client, "editor")
    page = client.get("/").get_data(as_text=True)
    assert "Served by" in page and "test-node" in page
    forged = client.post("/items/new", data={"sku": new_sku(), "name": "forged"})
    assert forged.status_code == 400


def test_editor_creates_and_moves_stock(web_app: Flask) -> None:
    client = web_app.test_client()
    login(client, "editor")
    sku = new_sku()
    token = csrf(client, "/items/new")
    resp = client.post(
        "/items/new", data={"sku": sku, "name": "Web item", "quantity": "5", "csrf_token": token}
    )
    assert resp.status_code == 302
    detail = resp.headers["Location"]
    resp = client.post(
        detail + "/movements", data={"reason": "ship", "amount": "2", "csrf_token": token}
    )
    assert resp.status_code == 302
    page = client.get(detail).get_data(as_text=True)
    assert '<strong id="quantity">3</strong>' in page
    resp = client.post(
        detail + "/movements", data={"reason": "ship", "amount": "9", "csrf_token": token}
    )
    assert resp.status_code == 409 and "only 3 in stock" in resp.get_data(as_text=True)
    invalid = client.post("/items/new", data={"sku": "bad sku", "name": "", "csrf_token": token})
    assert invalid.status_code == 422
    for path in ("/items?sort=-quantity&q=T-", "/low-stock", "/import", "/items?page=zz"):
        assert client.get(path).status_code == 200, path
    export = client.get("/export.csv")
    assert export.status_code == 200 and sku in export.get_data(as_text=True)


def test_viewer_cannot_write(web_app: Flask) -> None:
    client = web_app.test_client()
    login(client, "viewer")
    token = csrf(client, "/items")
    assert client.get("/items/new").status_code == 403
    assert (
        client.post(
            "/items/new", data={"sku": new_sku(), "name": "x", "csrf_token": token}
        ).status_code
        == 403
    )
    assert "New item" not in client.get("/items").get_data(as_text=True)


def test_unknown_page_is_html(web_app: Flask) -> Any:
    resp = web_app.test_client().get("/nowhere")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
