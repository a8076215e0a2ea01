"""Engine tuning (fast handshake, idle ping, the read-only pool), prebuilt reads run as SQL text,
and the mapping of "database is gone" errors to DatabaseUnavailable."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

# MySQL error numbers that mean "server gone / unreachable", not "your query is wrong".
_UNAVAILABLE_CODES = {1040, 1053, 1077, 1129, 1130, 1152, 1158, 1159, 1160, 1161, 2002, 2003}
_UNAVAILABLE_CODES |= {2005, 2006, 2013, 2014, 2026, 2027, 2055, 1045, 1049}
LOCK_CODES = {1205, 1213}  # lock wait timeout, deadlock


def is_mysql(dialect: Dialect | str) -> bool:
    """MySQL or MariaDB, by a dialect or a database URL: SQLAlchemy names the dialect of a
    ``mariadb+pymysql://`` URL "mariadb" and of ``mysql+pymysql://`` "mysql"; both are served
    the same way."""
    name = make_url(dialect).get_backend_name() if isinstance(dialect, str) else dialect.name
    return name in ("mysql", "mariadb")


def mysql_code(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout | DisconnectionError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        code = mysql_code(exc)
        return code is None or code in _UNAVAILABLE_CODES or code >= 2000
    return False


def install_fast_handshake(engine: Engine, handshake_timeout: float) -> None:
    """Bound the MySQL handshake by a short timeout, then use the normal read timeout.

    PyMySQL reads the server greeting with ``read_timeout``; a host that accepts TCP but never
    answers (a hung server, a black-holing network) would otherwise stall a request for the
    whole query timeout before the API can answer 503.
    """
    if not is_mysql(engine.dialect):
        return

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        query_timeout = cparams.get("read_timeout")
        conn = dialect.loaded_dbapi.connect(
            *cargs, **{**cparams, "read_timeout": handshake_timeout}
        )
        conn._read_timeout = query_timeout
        return conn


def install_idle_ping(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection on checkout only when it sat idle for ``idle_seconds`` or more.

    This is pool_pre_ping without its cost on busy connections: a connection that was used a
    moment ago is alive with near certainty, and if the server died meanwhile the statement fails,
    the error maps to 503 and SQLAlchemy invalidates the whole pool, so the next request reconnects.
    With idle_seconds = 0 every checkout pings (exactly what pool_pre_ping does).
    """

    @event.listens_for(engine, "connect")
    def _fresh(dbapi_conn: Any, record: Any) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn: Any, record: Any) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("last_used", 0.0) < idle_seconds:
            return
        try:
            dbapi_conn.ping(reconnect=False)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another one.
            raise DisconnectionError(str(exc)) from exc


READER = "stockroom_reader"


def create_reader(engine: Engine, options: dict[str, Any]) -> Engine:
    """A second pool on the app's database for requests that only read (GET /items, GET item).

    Its connections are in autocommit mode and SQLAlchemy skips the ROLLBACK it would send when
    a connection is returned: a read is one round trip instead of two (statement, ROLLBACK).
    Under load the round trip costs more than its server time, because the thread waits for the
    GIL again after each one."""
    options = {k: v for k, v in options.items() if k != "isolation_level"}
    return create_engine(
        engine.url, isolation_level="AUTOCOMMIT", skip_autocommit_rollback=True, **options
    )


def reader(session: Session) -> Engine | Connection:
    """Where the API's reads run: the reader pool (MySQL/MariaDB), else the session's own
    connection (SQLite in development)."""
    engine: Engine | None = current_app.extensions.get(READER)
    return engine if engine is not None else session.connection()


@lru_cache(maxsize=1024)
def _compiled(stmt: Any, dialect: Dialect) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    c = stmt.compile(dialect=dialect)
    names = tuple(c.positiontup or ()) if c.positional else tuple(c.params)
    return str(c), names, dict(c.params)


def sql_text(stmt: Any, dialect: Dialect, params: dict[str, Any]) -> tuple[str, Any]:
    """SQL text and DBAPI arguments of a statement built once at import: no per-request compile
    or cache-key work (only for statements whose results need no type processing)."""
    sql, names, defaults = _compiled(stmt, dialect)
    values = defaults | params
    if dialect.positional:
        return sql, tuple(values[n] for n in names)
    return sql, {n: values[n] for n in names}


def run(conn: Connection, stmt: Any, params: dict[str, Any]) -> CursorResult[Any]:
    """A prebuilt statement run as SQL text (``exec_driver_sql``): SQLAlchemy's pool, events,
    disconnect handling and error mapping, without its per-statement compile-cache and parameter
    work (a third of a movement's app CPU)."""
    return conn.exec_driver_sql(*sql_text(stmt, conn.dialect, params))


def first(source: Engine | Connection, stmt: Any, params: dict[str, Any]) -> Any:
    """First row of a prebuilt read-only statement, run as SQL text.

    On an engine (the reader pool) a read whose pooled connection turns out to be dead runs once
    more: SQLAlchemy has then dropped the pool's older connections, and a read is safe to repeat
    (database restart, RDS failover, ``wait_timeout``)."""
    if isinstance(source, Connection):
        return run(source, stmt, params).first()
    try:
        with source.connect() as conn:
            return run(conn, stmt, params).first()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    with source.connect() as conn:
        return run(conn, stmt, params).first()
