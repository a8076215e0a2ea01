"""Dashboard figures. Whole-table aggregates are cached per process for a short time, because
at 1M items a SUM over the table costs a full scan (see docs/app.md)."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockroom.services.items import items_t

_CACHE: dict[str, tuple[float, Any]] = {}
_LOCK = threading.Lock()
TTL = 30.0


def _cached(key: str, compute: Any, ttl: float = TTL) -> Any:
    hit = _CACHE.get(key)
    if hit and time.monotonic() - hit[0] < ttl:
        return hit[1]
    value = compute()
    with _LOCK:
        _CACHE[key] = (time.monotonic(), value)
    return value


def clear() -> None:
    with _LOCK:
        _CACHE.clear()


def totals(session: Session) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        row = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(items_t.c.quantity), 0),
                func.coalesce(func.sum(items_t.c.quantity * items_t.c.unit_cost), 0),
            )
        ).one()
        low = session.execute(
            select(func.count()).select_from(items_t).where(items_t.c.low_stock == True)  # noqa: E712
        ).scalar_one()
        return {"items": row[0], "units": int(row[1]), "value": row[2], "low_stock": low}

    return _cached("totals", compute)


def categories(session: Session) -> list[str]:
    return _cached(
        "categories",
        lambda: [
            c
            for (c,) in session.execute(
                select(items_t.c.category).distinct().order_by(items_t.c.category)
            )
            if c
        ],
        60.0,
    )


def locations(session: Session) -> list[str]:
    return _cached(
        "locations",
        lambda: [
            c
            for (c,) in session.execute(
                select(items_t.c.location).distinct().order_by(items_t.c.location)
            )
            if c
        ],
        60.0,
    )
