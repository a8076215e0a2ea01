"""Item and stock-movement logic. Views call these functions; they raise domain errors."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, literal, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockroom.errors import (
    DuplicateSku,
    InsufficientStock,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from stockroom.models import Item, Movement, utcnow
from stockroom.schemas import MAX_QUANTITY, ItemCreate, ItemQuery, ItemUpdate

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
    """Per-process cache of list totals by filter (COUNT_TTL s): paging through one filter costs
    one capped COUNT, not one per page. A total may lag changes by up to the TTL."""

    def __init__(self, ttl: float, size: int = 512) -> None:
        self.ttl, self.size = ttl, size
        self._data: dict[tuple[Any, ...], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> int | None:
        hit = self._data.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < self.ttl else None

    def put(self, key: tuple[Any, ...], value: int) -> None:
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


COUNT_TTL = 5.0
COUNT_CACHE = _CountCache(COUNT_TTL)
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


def get_item(session: Session, item_id: int, lock: bool = False) -> Row[Any]:
    stmt = _GET_ITEM_LOCKED if lock else _GET_ITEM
    row = session.connection().execute(stmt, {"item_id": item_id}).first()
    if row is None:
        raise NotFound(f"item {item_id} not found")
    return row


def get_item_by_sku(session: Session, sku: str) -> Row[Any] | None:
    return session.execute(select(items_t).where(items_t.c.sku == sku)).first()


def _escape_like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _source(query: ItemQuery) -> Any:
    """FROM clause of the list: the items table, or for ``q`` the items whose SKU or name starts
    with q. Each prefix is an index range scan; the UNION of the two id sets is what a plain
    ``sku LIKE .. OR name LIKE ..`` cannot give (that would scan the whole table at 1M rows)."""
    if not query.q:
        return items_t
    prefix = _escape_like(query.q) + "%"
    matches = union(
        select(items_t.c.id).where(items_t.c.sku.like(prefix, escape="!")),
        select(items_t.c.id).where(items_t.c.name.like(prefix, escape="!")),
    ).subquery("matches")
    return items_t.join(matches, matches.c.id == items_t.c.id)


def _filters(query: ItemQuery) -> list[Any]:
    conds: list[Any] = []
    if query.category is not None:
        conds.append(items_t.c.category == query.category)
    if query.location is not None:
        conds.append(items_t.c.location == query.location)
    if query.low_stock is not None:
        conds.append(items_t.c.low_stock == query.low_stock)
    return conds


def list_items(session: Session, query: ItemQuery) -> tuple[list[Row[Any]], int, bool]:
    """One page of items plus (total, total_exact)."""
    conds = _filters(query)
    key = query.sort.lstrip("-")
    col = _SORTS[key]
    desc = query.sort.startswith("-")
    order = [col.desc() if desc else col.asc()]
    if key != "sku":  # sku is unique; other keys need the id as a stable tie-breaker
        order.append(items_t.c.id.desc() if desc else items_t.c.id.asc())
    offset = (query.page - 1) * query.per_page
    # Deferred join: walk only the (covering) index to skip `offset` rows, then fetch full rows
    # for the page alone.
    source = _source(query)
    ids = (
        select(items_t.c.id)
        .select_from(source)
        .where(and_(True, *conds))
        .order_by(*order)
        .limit(query.per_page)
        .offset(offset)
        .subquery("page_ids")
    )
    stmt = select(items_t).join(ids, items_t.c.id == ids.c.id).order_by(*order)
    conn = session.connection()  # Core statements: skip the ORM execution layer
    rows = list(conn.execute(stmt))
    if offset == 0 and len(rows) < query.per_page:
        return rows, len(rows), True
    key = (query.q, query.category, query.location, query.low_stock)
    total = COUNT_CACHE.get(key)
    if total is None:
        capped = select(literal(1)).select_from(source).where(and_(True, *conds))
        capped = capped.limit(TOTAL_CAP + 1)
        total = conn.execute(select(func.count()).select_from(capped.subquery())).scalar_one()
        COUNT_CACHE.put(key, total)
    return rows, min(total, TOTAL_CAP), total <= TOTAL_CAP


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
    session.commit()


_NEW_QTY = items_t.c.quantity + bindparam("b_delta")
_MOVE_UPDATE = (
    update(items_t)
    .where(items_t.c.id == bindparam("b_id"), _NEW_QTY >= 0, _NEW_QTY <= MAX_QUANTITY)
    .values(quantity=_NEW_QTY, version=items_t.c.version + 1, updated_at=bindparam("b_now"))
)
_QTY = select(items_t.c.quantity).where(items_t.c.id == bindparam("b_id"))
_QTY_SHARED = _QTY.with_for_update(read=True)
_QTY_LOCKED = _QTY.with_for_update()
_MOVE_INSERT = insert(moves_t)


def record_movement(
    session: Session, item_id: int, *, delta: int, reason: str, note: str, username: str
) -> dict[str, Any]:
    """Apply a stock movement atomically.

    The conditional UPDATE checks and changes the quantity in one statement, so two clerks
    shipping the last unit at the same moment cannot both succeed: the second UPDATE waits for
    the first one's row lock, then re-evaluates the condition and matches no row.
    """
    now = utcnow()
    params = {"b_id": item_id, "b_delta": delta, "b_now": now}
    # Core statements on the session's connection: same transaction, without the ORM layer.
    conn = session.connection()
    try:
        if conn.execute(_MOVE_UPDATE, params).rowcount != 1:
            # Locking read: see the latest committed quantity, not this transaction's snapshot.
            current = conn.execute(_QTY_SHARED, params).scalar()
            session.rollback()
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
        # Our UPDATE holds the row lock until commit, so this read is our own result.
        after = conn.execute(_QTY_LOCKED, params).scalar_one()
        move_id = conn.execute(
            _MOVE_INSERT,
            {
                "item_id": item_id,
                "delta": delta,
                "reason": reason,
                "note": note,
                "quantity_after": after,
                "username": username,
                "created_at": now,
            },
        ).inserted_primary_key[0]
        session.commit()
    except Exception:
        session.rollback()
        raise
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
