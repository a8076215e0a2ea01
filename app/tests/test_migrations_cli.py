"""Migrations from empty (also concurrent), the command line, and production-mode refusal."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pymysql
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import BIN, MARIADB, app_env, free_port, mariadb_url

from stockroom.app import create_app
from stockroom.extensions import db
from stockroom.migrate import head_revision, upgrade

STOCKROOM = str(BIN / "stockroom")


def run(args: list[str], env: dict[str, str], stdin: str = "", timeout: int = 60) -> Any:
    return subprocess.run(
        [STOCKROOM, *args],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_env(databases: Any) -> dict[str, str]:
    return app_env(mariadb_url(databases.create("cli")))


def _connect(env: dict[str, str]) -> Any:
    return pymysql.connect(
        **MARIADB, database=env["STOCKROOM_DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    )


def test_concurrent_upgrades_from_empty(databases: Any) -> None:
    env = app_env(mariadb_url(databases.create("mig")))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run(["db", "upgrade"], env), range(4)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    outputs = sorted(r.stdout.strip() for r in results)
    # Exactly one process migrated; the others waited for the lock and found nothing to do.
    head = head_revision()
    assert sum(f"upgraded empty -> {head}" in o for o in outputs) == 1, outputs
    assert sum(f"already at {head}" in o for o in outputs) == 3, outputs
    assert run(["db", "check"], env).returncode == 0
    conn = pymysql.connect(
        **MARIADB, database=env["STOCKROOM_DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    )
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert {r[0] for r in cur.fetchall()} == {
            "alembic_version", "api_tokens", "item_changes", "items", "login_failures",
            "movements", "stock_events", "users",
        }  # fmt: skip
        cur.execute("SELECT COUNT(*), SUM(n) FROM item_changes")
        assert cur.fetchone() == (64, 0)
        cur.execute("SHOW INDEX FROM items")
        names = {r[2] for r in cur.fetchall()}
        assert {"sku", "ix_items_category_sku", "ix_items_low_stock_sku", "ix_items_name"} <= names
    conn.close()


def test_db_check_fails_on_empty_schema(databases: Any) -> None:
    env = app_env(mariadb_url(databases.create("empty")))
    result = run(["db", "check"], env)
    assert result.returncode == 1 and "stockroom db upgrade" in result.stderr


def test_user_and_token_commands(cli_env: dict[str, str]) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    made = run(["user", "create", "alice", "--role", "editor"], cli_env)
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip().splitlines()[-1].removeprefix("password: ")
    assert len(password) >= 12
    dup = run(["user", "create", "alice", "--role", "editor"], cli_env)
    assert dup.returncode == 1 and "already exists" in dup.stderr and "Traceback" not in dup.stderr
    ok = run(["user", "create", "alice", "--role", "editor", "--exist-ok"], cli_env)
    assert ok.returncode == 0
    admin = run(
        ["user", "create", "admin", "--role", "admin", "--password-stdin"], cli_env, "s3cret-pass\n"
    )
    assert admin.returncode == 0 and "s3cret" not in admin.stdout
    short = run(
        ["user", "create", "bob", "--role", "viewer", "--password-stdin"], cli_env, "short\n"
    )
    assert short.returncode == 1 and "password" in short.stderr
    token = run(["token", "create", "admin", "--name", "ci"], cli_env)
    assert token.returncode == 0
    value = token.stdout.strip().splitlines()[-1]
    assert value.startswith("sr_") and " " not in value
    listed = run(["token", "list"], cli_env).stdout
    assert "admin\tci\t" in listed and value not in listed  # only a prefix is shown
    token_id = listed.strip().splitlines()[-1].split("\t")[0]
    assert run(["token", "revoke", token_id], cli_env).returncode == 0
    assert "revoked" in run(["token", "list", "--user", "admin"], cli_env).stdout
    assert run(["token", "create", "nobody"], cli_env).returncode == 1


def test_seed_command(cli_env: dict[str, str]) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    result = run(["seed", "--items", "3000"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "seeded 3000 items" in result.stdout
    conn = pymysql.connect(
        **MARIADB, database=cli_env["STOCKROOM_DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    )
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*), COUNT(DISTINCT category), SUM(quantity) FROM items"
            " WHERE sku LIKE '%-0%'"
        )
        count, categories, units = cur.fetchone()
        cur.execute("SELECT SUM(delta) FROM movements WHERE username = 'seed'")
        (moved,) = cur.fetchone()
    conn.close()
    assert count >= 3000 and categories >= 5
    assert units == moved  # every unit on hand is explained by movements
    # make demo seeds with --if-empty on every run: a rerun must add nothing.
    again = run(["seed", "--items", "5", "--if-empty"], cli_env)
    assert again.returncode == 0 and "nothing seeded" in again.stdout, again.stderr


def test_production_requires_secret_key_cli(cli_env: dict[str, str]) -> None:
    env = cli_env | {"STOCKROOM_ENV": "production", "STOCKROOM_SECRET_KEY": ""}
    result = run(["db", "check"], env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "STOCKROOM_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_production_requires_secret_key_gunicorn(cli_env: dict[str, str]) -> None:
    env = {**os.environ, **cli_env, "STOCKROOM_ENV": "production"}
    env.pop("STOCKROOM_SECRET_KEY")
    cmd = [str(Path(BIN) / "gunicorn"), "-b", f"127.0.0.1:{free_port()}", "stockroom.wsgi:app"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "stockroom: configuration error: STOCKROOM_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_models_and_migrations_describe_the_same_schema(databases: Any) -> None:
    """models.py (what the code queries) and migrations/ (what a database gets) are written by
    hand: Alembic's autogenerate comparison of the migrated database with the models must find
    no difference (columns, types, nullability, indexes, unique and foreign keys)."""
    app = create_app(env=app_env(mariadb_url(databases.create("meta"))))
    with app.app_context():
        upgrade(db.engine)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
