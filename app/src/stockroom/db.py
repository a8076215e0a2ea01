"""Engine tuning and the mapping of "database is gone" errors to DatabaseUnavailable."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

# MySQL error numbers that mean "server gone / unreachable", not "your query is wrong".
_UNAVAILABLE_CODES = {1040, 1053, 1077, 1129, 1130, 1152, 1158, 1159, 1160, 1161, 2002, 2003}
_UNAVAILABLE_CODES |= {2005, 2006, 2013, 2014, 2026, 2027, 2055, 1045, 1049}
LOCK_CODES = {1205, 1213}  # lock wait timeout, deadlock


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
    if engine.dialect.name != "mysql":
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


def ping(url: str, timeout: float) -> bool:
    """One fresh connection with short timeouts (for /readyz): never waits on the pool."""
    args: dict[str, Any] = {}
    if url.startswith("mysql"):
        args = {"connect_timeout": timeout, "read_timeout": timeout, "write_timeout": timeout}
    try:
        with _ping_engine(url, tuple(sorted(args.items()))).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not ready"
        return False


@lru_cache(maxsize=8)
def _ping_engine(url: str, args: tuple[tuple[str, Any], ...]) -> Engine:
    return create_engine(url, poolclass=NullPool, connect_args=dict(args))


READER = "stockroom_reader"


def create_reader(engine: Engine, options: dict[str, Any]) -> Engine:
    """A second pool on the app's database for requests that only read (GET /items, GET item,
    through DirectReader).

    Its connections are in autocommit mode and SQLAlchemy skips the ROLLBACK it would send when
    a connection is returned: a read is one round trip instead of two (statement, ROLLBACK).
    Under load the round trip costs more than its server time, because the thread waits for the
    GIL again after each one."""
    options = {k: v for k, v in options.items() if k != "isolation_level"}
    return create_engine(
        engine.url, isolation_level="AUTOCOMMIT", skip_autocommit_rollback=True, **options
    )


DIRECT = "stockroom_direct_reader"


class DirectReader:
    """Runs one read-only SQL text on a pooled DBAPI connection of the reader pool and returns
    its first row: the hot list query without SQLAlchemy's Connection and execution context,
    which cost about 0.15 ms of CPU per request, a sixth of a list request's app CPU.

    What those layers give is kept: checkout from the pool (with its idle ping and recycling),
    errors raised as SQLAlchemy exceptions (the app maps them to 503), and when the connection
    turns out to be dead, a fresh pool (every older connection is suspect, as SQLAlchemy's own
    Connection assumes) and one more try, since a read is safe to repeat."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect

    def first(self, sql: str, params: Mapping[str, Any] | Sequence[Any]) -> Any:
        try:
            return self._first(sql, params)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return self._first(sql, params)

    def _first(self, sql: str, params: Mapping[str, Any] | Sequence[Any]) -> Any:
        with direct_cursor(self.engine) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()


@contextmanager
def direct_cursor(engine: Engine) -> Iterator[Any]:
    """A DBAPI cursor on a pooled connection of ``engine``, for the hottest statements.

    Errors of the driver come out as SQLAlchemy exceptions (the app maps them to 409/503). A
    dead connection is dropped together with the rest of the pool (every older connection is
    suspect, as SQLAlchemy's own Connection assumes); one interrupted by any other exception is
    dropped too, since its protocol state is unknown. The block commits or rolls back its own
    work (``cursor.connection``); after a driver error it is rolled back here."""
    dialect = engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        conn = engine.raw_connection()
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=dialect) from exc
    cursor = None
    try:
        cursor = conn.cursor()
        yield cursor
        cursor.close()
    except dbapi_error as exc:
        gone = dialect.is_disconnect(exc, conn.dbapi_connection, cursor)
        if gone:
            conn.invalidate(exc)
            engine.dispose(close=False)
        else:
            try:
                conn.rollback()
            except dbapi_error:
                conn.invalidate()
        raise DBAPIError.instance(
            None, None, exc, dbapi_error, connection_invalidated=gone, dialect=dialect
        ) from exc
    except BaseException:
        conn.invalidate()  # interrupted mid-statement: its protocol state is unknown
        raise
    finally:
        conn.close()  # back to the pool; after invalidate() it is simply dropped


def direct_reader(session: Session) -> DirectReader | Connection:
    """The direct reader where there is one (MySQL), else the session's own connection (SQLite
    in development): both run the services' prebuilt statements."""
    direct: DirectReader | None = current_app.extensions.get(DIRECT)
    return direct if direct is not None else session.connection()
