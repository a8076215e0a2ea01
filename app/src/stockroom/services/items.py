"""Item and stock-movement logic. Views call these functions; they raise domain errors."""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    union,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session

from stockroom.config import GROUP_CONCAT_MAX_LEN
from stockroom.db import DirectReader, direct_cursor
from stockroom.errors import (
    DuplicateSku,
    InsufficientStock,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from stockroom.models import Item, Movement, utcnow
from stockroom.schemas import MAX_QUANTITY, ItemCreate, ItemQuery, ItemUpdate
from stockroom.services.page_cache import (
    CHANGES_IN_PAGE,
    CHANGES_NOW,
    SHARDS,
    Page,
    PageCache,
    changes_t,
    note_change,
)

items_t = Item.__table__
moves_t = Movement.__table__

# Counting every match of a broad filter at 1M rows costs a scan per request, so list totals are
# exact only up to this many rows; beyond it the API says total_exact=false (see docs/app.md).
TOTAL_CAP = 10_000
ITEM_COLUMNS = (
    "id", "sku", "name", "description", "category", "location", "unit", "quantity",
    "reorder_level", "unit_cost", "low_stock", "version", "created_at", "updated_at",
)  # fmt: skip


class _CountCache:
    """Per-process cache of list totals by filter: paging through one filter costs one capped
    COUNT, not one per page. A total is reused for ``ttl`` seconds, or for as long as the
    item_changes sum it was counted at is still current (then it is exact)."""

    def __init__(self, ttl: float, size: int = 512) -> None:
        self.ttl, self.size = ttl, size
        self._data: dict[tuple[Any, ...], Counted] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], changes: Any = None) -> Counted | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if changes is not None and hit.changes == changes:
            return hit
        return hit if time.monotonic() - hit.counted_at < self.ttl else None

    def put(self, key: tuple[Any, ...], value: Counted) -> None:
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Counted(NamedTuple):
    counted_at: float
    total: int
    changes: Any  # SUM(item_changes.n) the count saw (None where there are no counters)


COUNT_TTL = 5.0
COUNT_CACHE = _CountCache(COUNT_TTL)
# List pages (MySQL/MariaDB): 16 MB of JSON text per process by default (app.py sets it).
PAGES = PageCache(16 * 1024 * 1024, COUNT_TTL)
_SORTS = {"sku": items_t.c.sku, "name": items_t.c.name, "quantity": items_t.c.quantity}
_SORTS["updated_at"] = items_t.c.updated_at


def iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds") + "Z"


def money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.2f}"


def item_dict(row: Row[Any] | Item) -> dict[str, Any]:
    m = row._mapping if isinstance(row, Row) else {c: getattr(row, c) for c in ITEM_COLUMNS}
    return {
        "id": m["id"],
        "sku": m["sku"],
        "name": m["name"],
        "description": m["description"] or "",
        "category": m["category"] or "",
        "location": m["location"] or "",
        "unit": m["unit"],
        "quantity": int(m["quantity"]),
        "reorder_level": int(m["reorder_level"]),
        "unit_cost": money(m["unit_cost"]),
        "low_stock": bool(m["low_stock"]),
        "version": m["version"],
        "created_at": iso(m["created_at"]),
        "updated_at": iso(m["updated_at"]),
    }


def movement_dict(row: Row[Any]) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "item_id": m["item_id"],
        "delta": int(m["delta"]),
        "reason": m["reason"],
        "note": m["note"] or "",
        "quantity_after": int(m["quantity_after"]),
        "user": m["username"],
        "created_at": iso(m["created_at"]),
    }


def _is_duplicate(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "1062" in text or "UNIQUE constraint failed" in text or "Duplicate entry" in text


# Hot-path statements are built once: SQLAlchemy then reuses their cache key and compiled SQL.
_GET_ITEM = select(items_t).where(items_t.c.id == bindparam("item_id"))
_GET_ITEM_LOCKED = _GET_ITEM.with_for_update(read=True)


def _connection(source: Session | Connection) -> Connection:
    return source if isinstance(source, Connection) else source.connection()


def _reader(source: Session | Connection | DirectReader) -> Connection | DirectReader:
    """Where a read-only prebuilt statement runs: the API's direct reader, else a connection."""
    return source if isinstance(source, DirectReader) else _connection(source)


def _text(value: str | bytes) -> str:
    # MySQL may type a JSON text built by the server (GROUP_CONCAT, JSON_OBJECT) as a BLOB.
    return value.decode() if isinstance(value, bytes) else value


def get_item(source: Session | Connection, item_id: int, lock: bool = False) -> Row[Any]:
    stmt = _GET_ITEM_LOCKED if lock else _GET_ITEM
    row = _connection(source).execute(stmt, {"item_id": item_id}).first()
    if row is None:
        raise NotFound(f"item {item_id} not found")
    return row


def get_item_by_sku(session: Session, sku: str) -> Row[Any] | None:
    return session.execute(select(items_t).where(items_t.c.sku == sku)).first()


def _escape_like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


class _Shape(NamedTuple):
    """What a list statement looks like; the values go in as bind parameters."""

    sort: str
    q: bool
    category: bool
    location: bool
    low_stock: bool


def _shape(query: ItemQuery) -> _Shape:
    return _Shape(
        query.sort,
        bool(query.q),
        query.category is not None,
        query.location is not None,
        query.low_stock is not None,
    )


def _params(query: ItemQuery) -> dict[str, Any]:
    return {
        "prefix": _escape_like(query.q) + "%",
        "category": query.category,
        "location": query.location,
        "low_stock": query.low_stock,
        "lim": query.per_page,
        "off": (query.page - 1) * query.per_page,
    }


def _source(shape: _Shape) -> Any:
    """FROM clause of the list: the items table, or for ``q`` the items whose SKU or name starts
    with q. Each prefix is an index range scan; the UNION of the two id sets is what a plain
    ``sku LIKE .. OR name LIKE ..`` cannot give (that would scan the whole table at 1M rows)."""
    if not shape.q:
        return items_t
    prefix = bindparam("prefix")
    matches = union(
        select(items_t.c.id).where(items_t.c.sku.like(prefix, escape="!")),
        select(items_t.c.id).where(items_t.c.name.like(prefix, escape="!")),
    ).subquery("matches")
    return items_t.join(matches, matches.c.id == items_t.c.id)


def _filters(shape: _Shape) -> Any:
    conds: list[Any] = []
    for name in ("category", "location", "low_stock"):
        if getattr(shape, name):
            conds.append(items_t.c[name] == bindparam(name))
    return and_(True, *conds)


class _ListStatements(NamedTuple):
    rows: Any  # full item rows of one page
    docs: Any  # the same page as one string of comma-separated JSON objects (MySQL/MariaDB)
    count: Any  # matching rows, counted up to TOTAL_CAP + 1


@functools.lru_cache(maxsize=256)
def _statements(shape: _Shape) -> _ListStatements:
    """Statements of one list shape, built once: SQLAlchemy's per-request statement building was
    a tenth of a list request's CPU."""
    col = _SORTS[shape.sort.lstrip("-")]
    desc = shape.sort.startswith("-")
    order = [col.desc() if desc else col.asc()]
    if col is not items_t.c.sku:  # sku is unique; other keys need the id as a stable tie-breaker
        order.append(items_t.c.id.desc() if desc else items_t.c.id.asc())
    source, where = _source(shape), _filters(shape)
    # Deferred join: walk only the (covering) index to skip `off` rows, then fetch full rows for
    # the page alone.
    ids = (
        select(items_t.c.id)
        .select_from(source)
        .where(where)
        .order_by(*order)
        .limit(bindparam("lim"))
        .offset(bindparam("off"))
        .subquery("page_ids")
    )
    page = items_t.join(ids, items_t.c.id == ids.c.id)
    capped = select(literal(1)).select_from(source).where(where).limit(TOTAL_CAP + 1)
    return _ListStatements(
        rows=select(items_t).select_from(page).order_by(*order),
        docs=select(_GroupConcat(_ITEM_JSON, *order), func.count(), CHANGES_IN_PAGE).select_from(
            page
        ),
        count=select(func.count(), CHANGES_IN_PAGE).select_from(capped.subquery()),
    )


@functools.lru_cache(maxsize=1024)
def _compiled(stmt: Any, dialect: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    c = stmt.compile(dialect=dialect)
    names = tuple(c.positiontup or ()) if c.positional else tuple(c.params)
    return str(c), names, dict(c.params)


def _sql(stmt: Any, dialect: Any, params: dict[str, Any]) -> tuple[str, Any]:
    """SQL text and DBAPI arguments of a prebuilt statement: no per-request compile or cache-key
    work (only for statements whose results need no processing)."""
    sql, names, defaults = _compiled(stmt, dialect)
    values = defaults | params
    if dialect.positional:
        return sql, tuple(values[n] for n in names)
    return sql, {n: values[n] for n in names}


def _first(conn: Connection | DirectReader, stmt: Any, params: dict[str, Any]) -> Any:
    """First row of a prebuilt statement, executed as its SQL text."""
    sql, args = _sql(stmt, conn.dialect, params)
    if isinstance(conn, DirectReader):
        return conn.first(sql, args)
    return conn.exec_driver_sql(sql, args).first()


def _filter_key(query: ItemQuery) -> tuple[Any, ...]:
    """What decides which items a list matches (and so its total)."""
    return (query.q, query.category, query.location, query.low_stock)


def _total(conn: Any, query: ItemQuery, count: int, changes: Any = None) -> tuple[int, bool, float]:
    """(total, exact, valid_until) of a list whose page held ``count`` rows and was read at
    item_changes sum ``changes``. valid_until is when a cached copy of this page must be read
    again although nothing changed: never when the total was counted at the same sum."""
    if query.page == 1 and count < query.per_page:
        return count, True, math.inf
    key = _filter_key(query)
    counted = COUNT_CACHE.get(key, changes)
    if counted is None:
        statement = _statements(_shape(query)).count
        total, at = _first(conn, statement, _params(query))
        counted = Counted(time.monotonic(), total, at)
        COUNT_CACHE.put(key, counted)
    exact_now = changes is not None and counted.changes == changes
    valid_until = math.inf if exact_now else counted.counted_at + COUNT_CACHE.ttl
    return min(counted.total, TOTAL_CAP), counted.total <= TOTAL_CAP, valid_until


def list_items(source: Session | Connection, query: ItemQuery) -> tuple[list[Row[Any]], int, bool]:
    """One page of items plus (total, total_exact)."""
    conn = _connection(source)  # Core statements: skip the ORM execution layer
    rows = list(conn.execute(_statements(_shape(query)).rows, _params(query)))
    return rows, *_total(conn, query, len(rows))[:2]


# The format of iso() in MySQL's DATE_FORMAT.
ISO_SQL_FORMAT = "%Y-%m-%dT%H:%i:%s.%fZ"


class _GroupConcat(ColumnElement[str]):
    """MySQL's GROUP_CONCAT(expr ORDER BY ...): the rows' texts joined by commas, in order.

    Not cacheable by SQLAlchemy: its cache key would not cover expr and order. The one statement
    using it is compiled once by _compiled() instead."""

    inherit_cache = False
    type = String()

    def __init__(self, expr: Any, *order: Any) -> None:
        self.expr, self.order = expr, order


@compiles(_GroupConcat)
def _compile_group_concat(element: _GroupConcat, compiler: Any, **kw: Any) -> str:
    order = ", ".join(compiler.process(o, **kw) for o in element.order)
    return f"GROUP_CONCAT({compiler.process(element.expr, **kw)} ORDER BY {order})"


def _json_bool(cond: Any) -> Any:
    # MySQL and MariaDB render a SQL boolean as 1/0 inside JSON_OBJECT; a value taken from a
    # JSON document stays a JSON true/false.
    return func.json_extract(literal_column("'[false,true]'"), case((cond, "$[1]"), else_="$[0]"))


_C = items_t.c
# item_dict() as one JSON_OBJECT (every column is NOT NULL, so no defaults are needed).
_ITEM_JSON = func.json_object(
    *(
        part
        for name, value in [
            *((n, _C[n]) for n in ITEM_COLUMNS[:9]),  # id .. reorder_level
            ("unit_cost", cast(_C.unit_cost, String)),
            ("low_stock", _json_bool(_C.low_stock)),
            ("version", _C.version),
            ("created_at", func.date_format(_C.created_at, literal_column(f"'{ISO_SQL_FORMAT}'"))),
            ("updated_at", func.date_format(_C.updated_at, literal_column(f"'{ISO_SQL_FORMAT}'"))),
        ]
        for part in (literal_column(f"'{name}'"), value)
    )
)


def list_item_docs(
    source: Session | Connection | DirectReader, query: ItemQuery
) -> tuple[str, int, bool]:
    """Like list_items, but the page's items as comma-separated JSON objects of item_dict().

    On MySQL/MariaDB the database builds that text in one row: decoding 50 rows x 14 columns in
    the pure-Python PyMySQL driver was most of a list request's CPU (docs/benchmarks.md). Other
    databases (SQLite in development) get the rows encoded here."""
    conn = _reader(source)
    if conn.dialect.name in ("mysql", "mariadb"):
        key = (*_filter_key(query), query.sort, query.page, query.per_page)
        cached = PAGES.get(key) if PAGES.enabled else None
        if cached is not None:
            hit = _first(conn, CHANGES_NOW, {})[0] == cached.changes
            PAGES.count(hit)
            if hit:
                return cached.text, cached.total, cached.exact
        text, count, changes = _first(conn, _statements(_shape(query)).docs, _params(query))
        text = _text(text) if text is not None else None
        # A result at the limit may have been cut short: then take the slow path.
        if text is None or len(text.encode()) < GROUP_CONCAT_MAX_LEN - 4:
            text = text or ""
            total, exact, valid_until = _total(conn, query, count, changes)
            if PAGES.enabled and changes is not None:  # None: no counters, nothing to check
                PAGES.put(key, Page(changes, valid_until, text, total, exact))
            return text, total, exact
    if isinstance(conn, DirectReader):
        with conn.engine.connect() as full:
            rows, total, exact = list_items(full, query)
    else:
        rows, total, exact = list_items(conn, query)
    return ",".join(json.dumps(item_dict(r)) for r in rows), total, exact


_ITEM_DOC = select(_ITEM_JSON, items_t.c.version).where(items_t.c.id == bindparam("item_id"))


def get_item_doc(source: Session | Connection | DirectReader, item_id: int) -> tuple[str, int]:
    """(item_dict() as JSON text, version) of one item: on MySQL/MariaDB the database builds the
    text, as for list pages, so the API serves it without decoding 14 columns in Python."""
    conn = _reader(source)
    if conn.dialect.name in ("mysql", "mariadb"):
        row = _first(conn, _ITEM_DOC, {"item_id": item_id})
        if row is None:
            raise NotFound(f"item {item_id} not found")
        doc, version = row
        return _text(doc), int(version)
    item = get_item(conn, item_id)
    return json.dumps(item_dict(item)), item.version


def _values(data: ItemCreate | ItemUpdate, exclude: set[str] | None = None) -> dict[str, Any]:
    return {
        k: v
        for k, v in data.model_dump(exclude_unset=isinstance(data, ItemUpdate)).items()
        if k not in (exclude or set())
    }


def _raise_if_duplicate(exc: IntegrityError, sku: str | None) -> None:
    """Turn the unique-key violation on sku into the API's 409; other errors pass on."""
    if _is_duplicate(exc):
        raise DuplicateSku(f"sku {sku!r} already exists", {"sku": "already exists"}) from None


def create_item(session: Session, data: ItemCreate, username: str) -> int:
    now = utcnow()
    values = _values(data) | {"version": 1, "created_at": now, "updated_at": now}
    try:
        item_id = session.execute(insert(items_t).values(**values)).inserted_primary_key[0]
        if data.quantity:
            session.execute(
                insert(moves_t).values(
                    item_id=item_id,
                    delta=data.quantity,
                    reason="receive",
                    note="initial stock",
                    quantity_after=data.quantity,
                    username=username,
                    created_at=now,
                )
            )
        note_change(session, int(item_id))
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        _raise_if_duplicate(exc, data.sku)
        raise
    return int(item_id)


def update_item(
    session: Session, item_id: int, data: ItemUpdate, if_match: int | None = None
) -> Row[Any]:
    values = _values(data)
    conds = [items_t.c.id == item_id]
    if if_match is not None:
        conds.append(items_t.c.version == if_match)
    if not values and if_match is None:
        return get_item(session, item_id)
    stmt = update(items_t).where(*conds).values(**values, version=items_t.c.version + 1)
    stmt = stmt.values(updated_at=utcnow())
    try:
        result = session.execute(stmt)
        if result.rowcount == 0:
            current = get_item(session, item_id, lock=True)  # raises NotFound
            raise PreconditionFailed(
                f"item {item_id} has version {current.version}, not {if_match}",
                {"If-Match": f"current version is {current.version}"},
            )
        note_change(session, item_id)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        _raise_if_duplicate(exc, data.sku)
        raise
    except Exception:
        session.rollback()
        raise
    return get_item(session, item_id)


def delete_item(session: Session, item_id: int) -> None:
    session.execute(moves_t.delete().where(moves_t.c.item_id == item_id))
    result = session.execute(items_t.delete().where(items_t.c.id == item_id))
    if result.rowcount == 0:
        session.rollback()
        raise NotFound(f"item {item_id} not found")
    note_change(session, item_id)
    session.commit()


_NEW_QTY = items_t.c.quantity + bindparam("b_delta")
_MOVE_UPDATE = (
    update(items_t)
    .where(items_t.c.id == bindparam("b_id"), _NEW_QTY >= 0, _NEW_QTY <= MAX_QUANTITY)
    .values(quantity=_NEW_QTY, version=items_t.c.version + 1, updated_at=bindparam("b_now"))
)
# MySQL/MariaDB: one UPDATE changes the item and bumps its item_changes counter (page cache),
# and LAST_INSERT_ID(expr) makes the server report the new quantity in the OK packet (the
# cursor's lastrowid), which saves the SELECT round trip that would read it back. It matches
# two rows (item and counter) when the movement applies.
_MOVE_UPDATE_MYSQL = (
    _MOVE_UPDATE.where(changes_t.c.shard == items_t.c.id % SHARDS)
    .values(quantity=func.last_insert_id(_NEW_QTY))
    .values({changes_t.c.n: changes_t.c.n + 1})
)
_QTY = select(items_t.c.quantity).where(items_t.c.id == bindparam("b_id"))
_QTY_SHARED = _QTY.with_for_update(read=True)
_QTY_LOCKED = _QTY.with_for_update()
_MOVE_INSERT = insert(moves_t).values(
    item_id=bindparam("b_id"),
    delta=bindparam("b_delta"),
    reason=bindparam("m_reason"),
    note=bindparam("m_note"),
    quantity_after=bindparam("m_after"),
    username=bindparam("m_user"),
    created_at=bindparam("b_now"),
)
# (move id, quantity after) when the movement applied, else (None, None, quantity on hand or
# None when there is no such item).
Moved = tuple[int | None, int | None, int | None]


def _move_direct(engine: Engine, params: dict[str, Any]) -> Moved:
    """MySQL/MariaDB: three round trips on a plain DBAPI cursor (UPDATE, INSERT, COMMIT); the
    SQLAlchemy Session and Connection layers were a quarter of a movement's CPU."""
    dialect = engine.dialect
    with direct_cursor(engine) as cursor:
        if cursor.execute(*_sql(_MOVE_UPDATE_MYSQL, dialect, params)) != 2:
            # Locking read: see the latest committed quantity, not an older snapshot.
            cursor.execute(*_sql(_QTY_SHARED, dialect, params))
            found = cursor.fetchone()
            cursor.connection.rollback()
            return None, None, found[0] if found else None
        after = cursor.lastrowid
        cursor.execute(*_sql(_MOVE_INSERT, dialect, params | {"m_after": after}))
        move_id = cursor.lastrowid
        cursor.connection.commit()
    return move_id, after, None


def _move_portable(session: Session, params: dict[str, Any]) -> Moved:
    conn = session.connection()  # Core statements: same transaction, without the ORM layer
    try:
        if conn.execute(_MOVE_UPDATE, params).rowcount != 1:
            current = conn.execute(_QTY_SHARED, params).scalar()
            session.rollback()
            return None, None, current
        # Our UPDATE holds the row lock until commit, so this read is our own result.
        after = conn.execute(_QTY_LOCKED, params).scalar_one()
        result = conn.execute(_MOVE_INSERT, params | {"m_after": after})
        note_change(conn, params["b_id"])
        session.commit()
    except Exception:
        session.rollback()
        raise
    return result.inserted_primary_key[0], after, None


def record_movement(
    session: Session, item_id: int, *, delta: int, reason: str, note: str, username: str
) -> dict[str, Any]:
    """Apply a stock movement atomically, in a transaction of its own.

    The conditional UPDATE checks and changes the quantity in one statement, so two clerks
    shipping the last unit at the same moment cannot both succeed: the second UPDATE waits for
    the first one's row lock, then re-evaluates the condition and matches no row.
    """
    now = utcnow()
    params = {"b_id": item_id, "b_delta": delta, "b_now": now}
    row = {"m_reason": reason, "m_note": note, "m_user": username}
    bind = session.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):
        move_id, after, current = _move_direct(bind, params | row)
    else:
        move_id, after, current = _move_portable(session, params | row)
    if move_id is None:
        if current is None:
            raise NotFound(f"item {item_id} not found")
        if current + delta < 0:
            raise InsufficientStock(
                f"only {current} in stock, cannot apply {delta}",
                {"delta": f"would make stock negative (on hand: {current})"},
            )
        raise ValidationFailed(
            "quantity would exceed the maximum", {"delta": f"quantity limit is {MAX_QUANTITY}"}
        )
    # Everything is known here; reading the row back would cost another round trip.
    return {
        "id": int(move_id),
        "item_id": item_id,
        "delta": delta,
        "reason": reason,
        "note": note,
        "quantity_after": int(after),
        "user": username,
        "created_at": iso(now),
    }


def list_movements(
    session: Session, item_id: int, page: int, per_page: int, check_item: bool = True
) -> list[Row[Any]]:
    if (
        check_item
        and session.execute(select(items_t.c.id).where(items_t.c.id == item_id)).first() is None
    ):
        raise NotFound(f"item {item_id} not found")
    stmt = (
        select(moves_t)
        .where(moves_t.c.item_id == item_id)
        .order_by(moves_t.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(session.execute(stmt))


def recent_movements(session: Session, limit: int = 10) -> list[Row[Any]]:
    stmt = (
        select(moves_t, items_t.c.sku, items_t.c.name)
        .join(items_t, items_t.c.id == moves_t.c.item_id)
        .order_by(moves_t.c.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt))
