"""The ``stockroom`` command line (console script)."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from stockroom import __version__
from stockroom.app import create_app
from stockroom.config import ConfigError
from stockroom.errors import StockroomError
from stockroom.extensions import db
from stockroom.migrate import MigrationLockTimeout, current_revision, head_revision, upgrade
from stockroom.models import Item
from stockroom.seed import seed
from stockroom.services import users


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"stockroom: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def app_context() -> Iterator[Flask]:
    """An app context with one-line errors instead of tracebacks for the usual failures."""

    # Maintenance commands may run long statements (migrations, seeding): long read timeout.
    env = dict(os.environ)
    env["STOCKROOM_DB_READ_TIMEOUT"] = env.get("STOCKROOM_CLI_READ_TIMEOUT", "3600")
    try:
        app = create_app(env=env)
    except ConfigError as exc:
        _fail(str(exc), 2)
    try:
        with app.app_context():
            yield app
    except StockroomError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        _fail(exc.message + (f" ({detail})" if detail else ""))
    except SQLAlchemyError as exc:
        _fail(f"database error: {str(exc.orig if hasattr(exc, 'orig') else exc).splitlines()[0]}")


@click.group()
@click.version_option(__version__, prog_name="stockroom")
def main() -> None:
    """Stockroom inventory service: maintenance commands."""


# ---------------------------------------------------------------- db
@main.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.option(
    "--lock-timeout", default=300, show_default=True, help="Seconds to wait for the lock."
)
def db_upgrade(revision: str, lock_timeout: int) -> None:
    """Apply migrations; safe to run on several nodes at once (MySQL GET_LOCK)."""

    with app_context():
        try:
            before, after = upgrade(db.engine, revision, lock_timeout)
        except MigrationLockTimeout as exc:
            _fail(str(exc))
        state = "already at" if before == after else f"upgraded {before or 'empty'} ->"
        click.echo(f"database schema {state} {after}")


@db_group.command("current")
def db_current() -> None:
    """Print the current schema revision."""

    with app_context():
        click.echo(current_revision(db.engine) or "empty")


@db_group.command("check")
def db_check() -> None:
    """Exit 0 when the database answers and the schema is at the latest revision, else 1."""

    with app_context():
        current, head = current_revision(db.engine), head_revision()
        if current != head:
            _fail(f"schema is at {current or 'empty'}, expected {head} (run: stockroom db upgrade)")
        click.echo(f"ok: schema at {head}")


# ---------------------------------------------------------------- users
@main.group("user")
def user_group() -> None:
    """Users and roles (viewer, editor, admin)."""


@user_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first stdin line.")
@click.option("--exist-ok", is_flag=True, help="Succeed without changes if the user exists.")
def user_create(username: str, role: str, password_stdin: bool, exist_ok: bool) -> None:
    """Create a user; without --password-stdin a password is generated and printed once."""

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else secrets.token_urlsafe(12)
    with app_context() as app:
        if (
            exist_ok
            and db.session.execute(
                users.users_t.select().where(users.users_t.c.username == username)
            ).first()
        ):
            click.echo(f"user {username} already exists (unchanged)")
            return
        users.create_user(db.session, username, role, password, _password_method(app))
        click.echo(f"created user {username} ({role})")
        if not password_stdin:
            click.echo(f"password: {password}")


@user_group.command("list")
def user_list() -> None:
    """List users."""

    with app_context():
        for row in users.list_users(db.session):
            click.echo(f"{row.username}\t{row.role}\t{'active' if row.active else 'disabled'}")


@user_group.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first stdin line.")
def user_set_password(username: str, password_stdin: bool) -> None:
    """Set a user's password (generated and printed once without --password-stdin)."""

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else secrets.token_urlsafe(12)
    with app_context() as app:
        users.set_password(db.session, username, password, _password_method(app))
        click.echo(f"password changed for {username} (their signed-in sessions have ended)")
        if not password_stdin:
            click.echo(f"password: {password}")


@user_group.command("deactivate")
@click.argument("username")
def user_deactivate(username: str) -> None:
    """Deactivate a user: sign-in refused, sessions ended and tokens revoked at once."""

    with app_context():
        users.set_active(db.session, username, False)
        click.echo(f"deactivated {username} (sessions ended, tokens revoked)")


@user_group.command("activate")
@click.argument("username")
def user_activate(username: str) -> None:
    """Let a deactivated user sign in again (their old tokens stay revoked)."""

    with app_context():
        users.set_active(db.session, username, True)
        click.echo(f"activated {username}")


def _password_method(app: Flask) -> str:
    return str(app.config["STOCKROOM_SETTINGS"].password_method)


# ---------------------------------------------------------------- tokens
@main.group("token")
def token_group() -> None:
    """API tokens (stored hashed)."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", default="", help="A label for the token.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="The token stops working this many days from now (default: never).",
)
def token_create(username: str, name: str, expires_days: int | None) -> None:
    """Create a token; the token is printed alone on the last line of stdout."""

    expires_in = timedelta(days=expires_days) if expires_days else None
    with app_context():
        token = users.create_token(db.session, username, name, expires_in)
        click.echo(f"token for {username} (shown once; store it now):")
        click.echo(token)


@token_group.command("list")
@click.option("--user", "username", default=None)
def token_list(username: str | None) -> None:
    """List tokens (id, user, name, prefix, state, expiry)."""

    with app_context():
        for r in users.list_tokens(db.session, username):
            expiry = f"{r.expires_at:%Y-%m-%dT%H:%MZ}" if r.expires_at else "-"
            state = users.token_state(r)
            click.echo(f"{r.id}\t{r.username}\t{r.name or '-'}\t{r.prefix}...\t{state}\t{expiry}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by id (see token list)."""

    with app_context():
        users.revoke_token(db.session, token_id)
        click.echo(f"revoked token {token_id}")


# ---------------------------------------------------------------- demo data / dev server
@main.command("seed")
@click.option("--items", "n_items", type=click.IntRange(1, 5_000_000), required=True)
@click.option("--random-seed", default=42, show_default=True)
@click.option(
    "--if-empty", is_flag=True, help="Do nothing when the database already holds items (reruns)."
)
def seed_cmd(n_items: int, random_seed: int, if_empty: bool) -> None:
    """Insert N realistic demo items with their movements (bulk inserts)."""

    with app_context():
        if if_empty and db.session.scalar(select(Item.id).limit(1)) is not None:
            click.echo("items already present: nothing seeded")
            return
        started = time.monotonic()
        items, moves = seed(db.engine, n_items, random_seed)
        click.echo(
            f"seeded {items} items and {moves} movements in {time.monotonic() - started:.1f} s"
        )


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def run_cmd(host: str, port: int) -> None:
    """Development server (use gunicorn stockroom.wsgi:app in production)."""
    with app_context() as app:
        app.run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    main()
