"""Dashboard figures. Whole-table aggregates are cached per process (caches.stats, 30 s), because
at 1M items a SUM over the table costs a full scan (see docs/app.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockroom.caches import caches
from stockroom.services.items import items_t


def _cached(key: str, compute: Callable[[], Any]) -> Any:
    stats = caches().stats
    value = stats.get(key)
    if value is None:
        value = compute()
        stats.put(key, value)
    return value


def clear() -> None:
    caches().stats.clear()


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


def _distinct(session: Session, column: str) -> list[str]:
    col = items_t.c[column]
    return [v for (v,) in session.execute(select(col).distinct().order_by(col)) if v]


def categories(session: Session) -> list[str]:
    return _cached("categories", lambda: _distinct(session, "category"))  # type: ignore[no-any-return]


def locations(session: Session) -> list[str]:
    return _cached("locations", lambda: _distinct(session, "location"))  # type: ignore[no-any-return]
