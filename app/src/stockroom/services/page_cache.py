"""GET /items pages kept per process (caches.pages) and never served once the app wrote to items.

Every transaction that writes to ``items`` (services, CSV import, seed) bumps one of the 64
``item_changes`` counters as its last statement before COMMIT: count_item_changes() installs
that on the engine, the one place every write goes through (a movement's UPDATE on MySQL/MariaDB
bumps its item's counter itself, which the hook recognises: movements.py says why). So SUM(n)
grows when such a change commits, on whichever node, and a rollback takes the bump back with the
change. A page is stored with the sum that the statement building it read (one snapshot); a
later request serves it only after reading the sum again and finding it unchanged: one tiny
query instead of building the page, and a write is seen by the next request on every node.

Changes made outside the app (SQL by hand) bump nothing: pages also expire after
STOCKROOM_LIST_CACHE_SECONDS (caches.py). Triggers on items would count those too, but on
MySQL/MariaDB any UPDATE trigger clears the LAST_INSERT_ID(expr) value that a movement's UPDATE
reports its new quantity through, which would cost every movement another round trip.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.engine import Connection, Engine

from stockroom.caches import caches
from stockroom.db import first, run
from stockroom.models import ItemChange

SHARDS = 64  # rows of item_changes (migration 0002)
changes_t = ItemChange.__table__
_BUMP = update(changes_t).where(changes_t.c.shard == bindparam("b_shard"))
_BUMP = _BUMP.values(n=changes_t.c.n + 1)
# The sum inside the statement that builds a page (same snapshot), and on its own for a hit.
CHANGES_IN_PAGE = select(func.sum(changes_t.c.n)).scalar_subquery()
CHANGES_NOW = select(func.sum(changes_t.c.n))
_WROTE_ITEMS = "stockroom_wrote_items"
# Any SQL that writes to items, however it was issued (Core statement, SQL text, executemany),
# except an UPDATE that bumps a counter itself (a movement on MySQL/MariaDB: movements.py).
_WRITES_ITEMS = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[`\"]?items\b", re.I)
_COUNTS_ITSELF = re.compile(r"\s*UPDATE\s+items\s*,\s*item_changes\b", re.I)


def count_item_changes(engine: Engine) -> None:
    """Bump a random change counter in every transaction on ``engine`` that wrote to items (any
    INSERT, UPDATE or DELETE on it, seen as the SQL goes to the driver).

    The bump is the transaction's last statement, so every writer locks item rows before a
    counter row (no new deadlock cycle), and two writers wait for each other on a counter only
    when they picked the same one of 64 rows."""

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if _WRITES_ITEMS.match(statement) and not _COUNTS_ITSELF.match(statement):
            conn.info[_WROTE_ITEMS] = True

    @event.listens_for(engine, "commit")
    def _bump(conn: Connection) -> None:
        if conn.info.pop(_WROTE_ITEMS, False):
            run(conn, _BUMP, {"b_shard": random.randrange(SHARDS)})  # noqa: S311

    @event.listens_for(engine, "rollback")
    def _forget(conn: Connection) -> None:
        if not conn.invalidated:  # else the pool clears the info when it reconnects
            conn.info.pop(_WROTE_ITEMS, None)


class Page(NamedTuple):
    changes: Decimal | int | None  # SUM(item_changes.n) when the page was read
    valid_until: float  # time.monotonic() after which the page's total may be stale
    text: str  # the page's items as comma-separated JSON objects
    total: int
    exact: bool


def cached_page(conn: Engine | Connection, key: tuple[Any, ...]) -> Page | None:
    """The stored page of ``key`` if no item changed since it was read (one small query)."""
    pages = caches().pages
    page: Page | None = pages.get(key) if pages.enabled else None
    if page is None:
        return None
    if first(conn, CHANGES_NOW, {})[0] == page.changes:
        pages.hits += 1
        return page
    pages.misses += 1
    return None


def keep_page(key: tuple[Any, ...], page: Page) -> None:
    if page.changes is not None:  # None: no counters, nothing to check a hit against
        caches().pages.put(key, page)
