"""Security review items (issue #16, app part), each against the real MariaDB: redirects after
sign-in, CSV formula injection, sign-in throttling across processes, the trusted proxy hop, headers,
body limits, sessions and accounts, and the cached readiness probe."""

from __future__ import annotations

import csv
import io
import os
import re
import statistics
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pymysql
import pytest
import requests
from conftest import BIN, MARIADB, Api, app_env, mariadb_url, new_sku
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from werkzeug.security import generate_password_hash

from stockroom.app import create_app
from stockroom.config import ConfigError, load_settings
from stockroom.errors import ValidationFailed
from stockroom.extensions import db
from stockroom.services import users

PASSWORD = "sec-password-1"
HEADER = "sku,name,description,category,location,unit,quantity,reorder_level,unit_cost"
_addresses = iter(range(1, 250))


@pytest.fixture(scope="module")
def sec_app(app: Flask, db_name: str) -> Flask:
    # CSRF off (the web tests cover it); a cheaper scrypt so that many sign-ins stay fast.
    env = app_env(mariadb_url(db_name), STOCKROOM_PASSWORD_SCRYPT_N="16384")
    return create_app({"WTF_CSRF_ENABLED": False}, env=env)


@pytest.fixture(scope="module")
def admin(sec_app: Flask, tokens: dict[str, str]) -> Api:
    return Api(sec_app.test_client(), tokens["admin"])


def make_user(admin: Api, role: str = "editor") -> str:
    """A new user through the API (the same call before and after the security changes)."""
    name = "sec-" + new_sku().lower()
    resp = admin.post("/users", json={"username": name, "role": role, "password": PASSWORD})
    assert resp.status_code == 201, resp.get_json()
    return name


def client_from(app: Flask) -> FlaskClient:
    """A test client with an address of its own, so throttling in one test never meets another."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"192.0.2.{next(_addresses)}"
    return client


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, **kw: Any) -> Any:
    return client.post("/login", data={"username": username, "password": password}, **kw)


def query(db_name: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(**MARIADB, database=db_name, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


# ---------------------------------------------------------------- 1. open redirect
@pytest.mark.parametrize(
    "target",
    ["/%09/evil.com", "//evil.com", "/%5Cevil.com", "/%0D%0A/evil.com", "https://evil.com", "x"],
)
def test_login_redirects_only_to_same_site_paths(sec_app: Flask, admin: Api, target: str) -> None:
    name = make_user(admin)
    resp = sign_in(client_from(sec_app), name, query_string=f"next={target}")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/", resp.headers["Location"]


def test_login_follows_a_local_next(sec_app: Flask, admin: Api) -> None:
    resp = sign_in(client_from(sec_app), make_user(admin), query_string={"next": "/items?q=a"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/items?q=a"


# ---------------------------------------------------------------- 2. CSV formula injection
def test_csv_export_neutralises_formulas_and_import_gives_the_text_back(admin: Api) -> None:
    cat = "inj-" + new_sku()
    originals = {
        "-" + new_sku(): {"name": '=HYPERLINK("http://evil","x")', "description": "+cmd|' /C'!A0"},
        new_sku(): {"name": "@SUM(1+1)", "description": "\tleading tab", "location": "-2+3"},
        new_sku(): {"name": "'=already quoted", "description": "\r\nCR first", "unit": "=1"},
        new_sku(): {"name": "plain name", "description": "'just a quote"},
    }  # fmt: skip
    ids = {}
    for sku, fields in originals.items():
        resp = admin.post("/items", json={"sku": sku, "category": cat, **fields})
        assert resp.status_code == 201, resp.get_json()
        ids[sku] = resp.get_json()["id"]
    export = admin.get("/export/items.csv").get_data(as_text=True)
    rows = [r for r in csv.DictReader(io.StringIO(export)) if r["category"] == cat]
    assert len(rows) == len(originals)
    trigger = ("=", "+", "-", "@", "\t", "\r")
    for row in rows:
        for column in ("sku", "name", "description", "location", "unit"):
            assert not row[column].startswith(trigger), (column, row[column])
    by_sku = {r["sku"].removeprefix("'"): r for r in rows}
    assert by_sku[next(iter(originals))]["name"].startswith("'=HYPERLINK")

    # Change every item, then import the export: the original text comes back exactly.
    changed = {"name": "changed", "description": "changed", "location": "", "unit": "pcs"}
    for item_id in ids.values():
        assert admin.patch(f"/items/{item_id}", json=changed).status_code == 200
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER.split(","), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    resp = admin.post("/import/items", data=buf.getvalue(), content_type="text/csv")
    assert resp.status_code == 200 and resp.get_json() == {"created": 0, "updated": 4}
    items = {i["sku"]: i for i in admin.get(f"/items?category={cat}").get_json()["items"]}
    for sku, fields in originals.items():
        for key, value in fields.items():
            assert items[sku][key] == value, (sku, key, items[sku][key])


# ---------------------------------------------------------------- 3. throttling and timing
def test_failed_sign_ins_are_slowed_then_refused(sec_app: Flask, admin: Api) -> None:
    name = make_user(admin)
    client = client_from(sec_app)
    for _ in range(5):
        assert sign_in(client, name, "wrong-password").status_code == 401
    refused = sign_in(client, name)  # even the right password is not checked now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    # From another address too: the username is throttled on its own.
    assert sign_in(client_from(sec_app), name).status_code == 429
    time.sleep(int(refused.headers["Retry-After"]) + 0.2)
    assert sign_in(client, name, "wrong-password").status_code == 401
    again = sign_in(client, name)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 2  # the wait grows
    # The API's bearer tokens are not affected.
    assert admin.get("/me").status_code == 200


def test_one_address_guessing_many_usernames_is_refused(sec_app: Flask) -> None:
    client = client_from(sec_app)
    for i in range(20):
        assert sign_in(client, f"nobody-{i}-{new_sku()}", "guess").status_code == 401
    assert sign_in(client, "nobody-else", "guess").status_code == 429
    assert sign_in(client_from(sec_app), "nobody-else", "guess").status_code == 401


def test_success_clears_the_usernames_failures(sec_app: Flask, admin: Api) -> None:
    name = make_user(admin)
    client = client_from(sec_app)
    for _ in range(4):
        assert sign_in(client, name, "wrong-password").status_code == 401
    assert sign_in(client, name).status_code == 302
    for _ in range(4):
        assert sign_in(client_from(sec_app), name, "wrong-password").status_code == 401


def test_throttle_is_shared_by_every_node(
    sec_app: Flask, admin: Api, live_server: dict[str, Any]
) -> None:
    """Failures on this process refuse the same username on the gunicorn workers (their own
    processes and pools): the state is in the database."""
    name = make_user(admin)
    for _ in range(5):
        assert sign_in(client_from(sec_app), name, "wrong-password").status_code == 401
    browser = requests.Session()
    page = browser.get(live_server["url"] + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    resp = browser.post(
        live_server["url"] + "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 429, resp.status_code


def test_unknown_user_costs_as_much_as_a_wrong_password(sec_app: Flask, admin: Api) -> None:
    name = make_user(admin)
    sign_in(client_from(sec_app), "ghost-" + new_sku(), "warm-up")

    def timed(username: str) -> float:
        started = time.perf_counter()
        assert sign_in(client_from(sec_app), username, "wrong-password").status_code == 401
        return time.perf_counter() - started

    # Interleaved, so that a busy machine slows both kinds alike (5 failures: not yet throttled).
    pairs = [(timed(name), timed("ghost-" + new_sku())) for _ in range(5)]
    wrong, unknown = (statistics.median(column) for column in zip(*pairs, strict=True))
    assert unknown > 0.6 * wrong, (unknown, wrong)


# ---------------------------------------------------------------- 4. behind HTTPS
def test_one_trusted_proxy_hop_sets_address_scheme_cookie_and_hsts(
    sec_app: Flask, admin: Api, db_name: str
) -> None:
    name = make_user(admin)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    client = sec_app.test_client()
    assert sign_in(client, name, "wrong-password", headers=forwarded).status_code == 401
    subjects = {r[0] for r in query(db_name, "SELECT subject FROM login_failures")}
    # The proxy appended 203.0.113.9; what the client wrote before it is not believed.
    assert "ip:203.0.113.9" in subjects and "ip:198.51.100.7" not in subjects
    resp = sign_in(client, name, headers=forwarded)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/")
    cookie = resp.headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")

    plain = sign_in(client_from(sec_app), name)
    assert "Secure" not in plain.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in plain.headers


def test_proxy_hops_are_configurable(db_name: str) -> None:
    direct = create_app(env=app_env(mariadb_url(db_name), STOCKROOM_PROXY_HOPS="0"))
    resp = direct.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in resp.headers  # nobody in front: not believed
    with pytest.raises(ConfigError):
        load_settings({"STOCKROOM_PROXY_HOPS": "many"})


def test_csrf_still_passes_over_https_with_the_referrer_policy(
    app: Flask, admin: Api, db_name: str
) -> None:
    web = create_app(env=app_env(mariadb_url(db_name), STOCKROOM_PASSWORD_SCRYPT_N="16384"))
    name = make_user(admin)
    client = client_from(web)
    https = {"X-Forwarded-Proto": "https"}
    page = client.get("/login", headers=https)
    assert page.headers["Referrer-Policy"] == "same-origin"  # keeps the Referer CSRF checks
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    resp = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)},
        headers={**https, "Referer": "https://localhost/login"},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


# ---------------------------------------------------------------- 5. headers
def test_security_headers_and_no_inline_code(sec_app: Flask, admin: Api) -> None:
    client = client_from(sec_app)
    login_page = client.get("/login")
    csp = login_page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert login_page.headers["X-Content-Type-Options"] == "nosniff"
    assert login_page.headers["X-Frame-Options"] == "DENY"
    assert login_page.headers["Referrer-Policy"] == "same-origin"
    assert "no-store" not in login_page.headers.get("Cache-Control", "")

    assert sign_in(client, make_user(admin)).status_code == 302
    item = admin.post("/items", json={"sku": new_sku(), "name": "Header check"}).get_json()
    for path in ("/", "/items", f"/items/{item['id']}", f"/items/{item['id']}/edit", "/import"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["Cache-Control"] == "no-store", path
        html = page.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # no inline script
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path  # nor style/handlers
    assert 'data-confirm="Delete' in client.get(f"/items/{item['id']}").get_data(as_text=True)
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.mimetype
    assert "confirm" in script.get_data(as_text=True)


# ---------------------------------------------------------------- 6. request bodies
def test_body_limit_is_1_mib_with_a_json_413_on_the_api(admin: Api) -> None:
    big = b'{"sku": "' + b"A" * (1024 * 1024) + b'"}'
    resp = admin.post("/items", data=big, content_type="application/json")
    assert resp.status_code == 413
    body = resp.get_json()
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["code"] == "request_entity_too_large"


def test_csv_import_takes_more_up_to_its_own_limit(admin: Api, db_name: str) -> None:
    cat = "big-" + new_sku()
    filler = "x" * 1900
    lines = [f"{new_sku()},Big import row,{filler},{cat},,,1,0,0" for _ in range(1200)]
    data = (HEADER + "\n" + "\n".join(lines) + "\n").encode()
    assert len(data) > 2 * 1024 * 1024
    resp = admin.post("/import/items", data=data, content_type="text/csv")
    assert resp.status_code == 200 and resp.get_json()["created"] == 1200
    multipart = admin.post(
        "/import/items",
        data={"file": (io.BytesIO(data), "items.csv")},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 200 and multipart.get_json()["updated"] == 1200

    small = create_app(env=app_env(mariadb_url(db_name), STOCKROOM_IMPORT_MAX_BYTES="1048576"))
    capped = Api(small.test_client(), admin.token)
    resp = capped.post("/import/items", data=data, content_type="text/csv")
    assert (
        resp.status_code == 413 and resp.get_json()["error"]["code"] == "request_entity_too_large"
    )


def test_web_forms_are_limited_too(sec_app: Flask, admin: Api) -> None:
    client = client_from(sec_app)
    assert sign_in(client, make_user(admin)).status_code == 302
    resp = client.post("/items/new", data={"sku": new_sku(), "name": "x" * (1024 * 1024 + 10)})
    assert resp.status_code == 413 and resp.mimetype == "text/html"


# ---------------------------------------------------------------- 7. sessions and accounts
def test_logout_ends_the_users_other_sessions(sec_app: Flask, admin: Api) -> None:
    name = make_user(admin)
    laptop, phone = client_from(sec_app), client_from(sec_app)
    assert sign_in(laptop, name).status_code == 302
    assert sign_in(phone, name).status_code == 302
    assert phone.get("/").status_code == 200
    assert laptop.post("/logout").status_code == 302
    assert phone.get("/").status_code == 302  # back to the sign-in page


def test_a_new_password_ends_sessions(sec_app: Flask, admin: Api) -> None:
    name = make_user(admin)
    client = client_from(sec_app)
    assert sign_in(client, name).status_code == 302
    with sec_app.app_context():
        users.set_password(db.session, name, "another-password-2")
        db.session.remove()
    assert client.get("/").status_code == 302
    assert sign_in(client, name, "another-password-2").status_code == 302
    assert client.get("/").status_code == 200


def test_a_session_lives_12_hours(sec_app: Flask, admin: Api) -> None:
    client = client_from(sec_app)
    resp = sign_in(client, make_user(admin))
    expires = re.search(r"Expires=([^;]+)", resp.headers["Set-Cookie"])
    assert expires, resp.headers["Set-Cookie"]
    left = (parsedate_to_datetime(expires.group(1)) - datetime.now(UTC)).total_seconds()
    assert 12 * 3600 - 60 < left <= 12 * 3600 + 1, left
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:  # the same cookie, signed in 12 h ago
        session["iat"] -= 12 * 3600 + 1
    assert client.get("/").status_code == 302


def test_admin_deactivates_a_user_through_the_api(sec_app: Flask, admin: Api) -> None:
    name = make_user(admin)
    client = client_from(sec_app)
    assert sign_in(client, name).status_code == 302
    own = Api(sec_app.test_client(), new_token(sec_app, name))
    assert own.get("/me").status_code == 200
    assert admin.patch(f"/users/{name}", json={"active": "no"}).status_code == 422
    resp = admin.patch(f"/users/{name}", json={"active": False})
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert client.get("/").status_code == 302  # the session ended at once
    assert own.get("/me").status_code == 401  # and the token
    assert sign_in(client_from(sec_app), name).status_code == 401
    assert admin.patch("/users/no-such-user", json={"active": False}).status_code == 404
    myself = admin.patch("/users/t-admin", json={"active": False})
    assert myself.status_code == 422 and "active" in myself.get_json()["error"]["fields"]
    assert admin.patch(f"/users/{name}", json={"active": True}).get_json()["active"] is True
    assert sign_in(client_from(sec_app), name).status_code == 302
    assert own.get("/me").status_code == 401  # old tokens stay revoked


def new_token(app: Flask, username: str) -> str:
    with app.app_context():
        token = users.create_token(db.session, username, "tests")
        db.session.remove()
    return token


def cli(db_name: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **app_env(mariadb_url(db_name))}
    result = subprocess.run(
        [str(BIN / "stockroom"), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_admin_deactivates_a_user_from_the_cli(sec_app: Flask, admin: Api, db_name: str) -> None:
    name = make_user(admin)
    client = client_from(sec_app)
    assert sign_in(client, name).status_code == 302
    token = new_token(sec_app, name)
    assert cli(db_name, "user", "deactivate", name).stdout.startswith(f"deactivated {name}")
    assert client.get("/").status_code == 302
    assert Api(sec_app.test_client(), token).get("/me").status_code == 401
    assert f"{name}\teditor\tdisabled" in cli(db_name, "user", "list").stdout


def test_tokens_may_expire(sec_app: Flask, admin: Api, db_name: str) -> None:
    name = make_user(admin)
    made = cli(db_name, "token", "create", name, "--name", "short", "--expires-days", "1")
    token = made.stdout.strip().splitlines()[-1]
    caller = Api(sec_app.test_client(), token)
    assert caller.get("/me").status_code == 200
    (expires,) = query(
        db_name,
        "SELECT expires_at FROM api_tokens WHERE prefix = %s AND expires_at IS NOT NULL",
        token[:10],
    )[0]
    left = expires - datetime.now(UTC).replace(tzinfo=None)
    assert 23 * 3600 < left.total_seconds() <= 86400, left
    query(
        db_name,
        "UPDATE api_tokens SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE prefix = %s",
        token[:10],
    )
    resp = caller.get("/me")
    assert resp.status_code == 401 and "expired" in resp.get_json()["error"]["message"]
    assert "\texpired\t" in cli(db_name, "token", "list", "--user", name).stdout


def test_password_hashing_meets_the_floor_by_default(app: Flask, admin: Api) -> None:
    settings = load_settings(
        {
            "STOCKROOM_ENV": "production",
            "STOCKROOM_SECRET_KEY": "x" * 32,
            "STOCKROOM_DATABASE_URL": "mysql+pymysql://u@127.0.0.1/x",
        }
    )
    assert settings.password_method == "scrypt:131072:8:1"  # OWASP: N=2^17, r=8, p=1
    with pytest.raises(ConfigError, match="STOCKROOM_PASSWORD_SCRYPT_N"):
        load_settings({"STOCKROOM_PASSWORD_SCRYPT_N": "16384", "STOCKROOM_ENV": "development"})
    # The suite's own app runs with the defaults: a user made through it gets the floor.
    client = Api(app.test_client(), admin.token)
    name = "floor-" + new_sku().lower()
    made = client.post("/users", json={"username": name, "role": "viewer", "password": PASSWORD})
    assert made.status_code == 201
    with app.app_context():
        stored = db.session.execute(
            select(users.users_t.c.password_hash).where(users.users_t.c.username == name)
        ).scalar_one()
        db.session.remove()
    assert stored.startswith("scrypt:131072:8:1$"), stored[:30]


def test_old_hashes_are_upgraded_on_the_next_sign_in(app: Flask, admin: Api, db_name: str) -> None:
    name = make_user(admin)
    old = generate_password_hash(PASSWORD, method="pbkdf2:sha256:600000")
    query(db_name, "UPDATE users SET password_hash = %s WHERE username = %s", old, name)
    client = app.test_client()  # the suite's app: default (production) hashing cost
    client.environ_base["REMOTE_ADDR"] = f"192.0.2.{next(_addresses)}"
    assert sign_in(client, name, "wrong-password").status_code == 401
    assert query(db_name, "SELECT password_hash FROM users WHERE username = %s", name)[0][0] == old
    assert sign_in(client, name).status_code == 302
    ((stored,),) = query(db_name, "SELECT password_hash FROM users WHERE username = %s", name)
    assert stored.startswith("scrypt:131072:8:1$")
    assert sign_in(client_from(app), name).status_code == 302  # the new hash works


def test_passwords_have_a_maximum_length(sec_app: Flask, admin: Api) -> None:
    with sec_app.app_context(), pytest.raises(ValidationFailed) as err:
        users.create_user(db.session, "long-" + new_sku().lower(), "viewer", "p" * 201)
    assert "at most 200" in err.value.fields["password"]
    name = make_user(admin)
    with sec_app.app_context(), pytest.raises(ValidationFailed):
        users.set_password(db.session, name, "p" * 5000)
    assert sign_in(client_from(sec_app), name, "p" * 100_000).status_code == 401


# ---------------------------------------------------------------- 8. /readyz
@pytest.fixture
def pool_events() -> Iterator[dict[str, int]]:
    counts = {"connect": 0, "probe": 0}

    def on_connect(*_: Any) -> None:
        counts["connect"] += 1

    def on_execute(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        counts["probe"] += statement.strip().upper() == "SELECT 1"

    event.listen(Pool, "connect", on_connect)
    event.listen(Engine, "before_cursor_execute", on_execute)
    yield counts
    event.remove(Pool, "connect", on_connect)
    event.remove(Engine, "before_cursor_execute", on_execute)


def test_readyz_flood_is_answered_from_a_cached_probe(db_name: str, pool_events: Any) -> None:
    ready = create_app(env=app_env(mariadb_url(db_name)))
    client = ready.test_client()
    with ready.app_context():
        db.session.execute(text("SELECT 2"))  # warm the pool: one connection
        db.session.remove()
    before = dict(pool_events)
    started = time.monotonic()
    for _ in range(100):
        resp = client.get("/readyz")
        assert resp.status_code == 200 and resp.get_json()["status"] == "ready"
    elapsed = time.monotonic() - started
    assert pool_events["connect"] - before["connect"] == 0  # through the pool, no new connection
    assert pool_events["probe"] - before["probe"] <= 1 + int(elapsed), (pool_events, elapsed)
