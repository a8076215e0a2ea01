"""Alembic migrations; on MySQL/MariaDB under GET_LOCK so several nodes may upgrade at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from stockroom.db import is_mysql

LOCK_NAME = "stockroom_schema_migration"
MIGRATIONS = Path(__file__).parent / "migrations"


class MigrationLockTimeout(Exception):
    pass


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return str(ScriptDirectory.from_config(_config()).get_current_head())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(
    engine: Engine, revision: str = "head", lock_timeout: int = 300
) -> tuple[str | None, str]:
    """Upgrade to ``revision``; returns (before, after). Waits up to lock_timeout s for the lock."""
    with engine.connect() as conn:
        locked = is_mysql(engine.dialect)
        if locked:
            got = conn.execute(
                text("SELECT GET_LOCK(:name, :timeout)"),
                {"name": LOCK_NAME, "timeout": lock_timeout},
            ).scalar()
            conn.commit()
            if got != 1:
                raise MigrationLockTimeout(f"could not get lock {LOCK_NAME} in {lock_timeout} s")
        try:
            # Read the revision only after taking the lock: another node may just have upgraded.
            before = MigrationContext.configure(conn).get_current_revision()
            conn.commit()
            command.upgrade(_config(conn), revision)
            conn.commit()
            after = MigrationContext.configure(conn).get_current_revision()
        finally:
            if locked:
                conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
                conn.commit()
    return before, str(after)
