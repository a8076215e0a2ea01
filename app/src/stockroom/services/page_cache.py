"""Per-process cache of GET /items pages that never serves a page older than the app's writes.

Every write to ``items`` by the app (services) bumps one of the ``item_changes`` counters in
the same transaction, so SUM(n) grows when such a change commits, on whichever node, and a
rollback takes the bump back with the change. A page is stored with the sum that the statement
building it read (one snapshot); a later request serves it only after reading the sum again and
finding it unchanged. A hit is then one tiny query instead of building the page (docs/app.md
has the figures), and a write is seen by the next request on every node.

Changes made outside the app (SQL by hand) bump nothing: pages also expire after ``max_age``
seconds (STOCKROOM_LIST_CACHE_SECONDS), stretched at random by up to half so that pages filled
together are not all read again at the same moment. A page whose total came from the totals'
cache (counted at another sum) expires when that total would.

(Triggers on items would also count SQL by hand, but on MySQL/MariaDB any UPDATE trigger clears
the LAST_INSERT_ID(expr) value that a movement's UPDATE reports its new quantity through, which
would cost every movement another round trip.)
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from stockroom.models import ItemChange

SHARDS = 64  # rows of item_changes (migration 0002)
changes_t = ItemChange.__table__
_BUMP = update(changes_t).where(changes_t.c.shard == bindparam("b_shard"))
_BUMP = _BUMP.values(n=changes_t.c.n + 1)
# The sum inside the statement that builds a page (same snapshot), and on its own for a hit.
CHANGES_IN_PAGE = select(func.sum(changes_t.c.n)).scalar_subquery()
CHANGES_NOW = select(func.sum(changes_t.c.n))


class Page(NamedTuple):
    changes: Decimal | int | None  # SUM(item_changes.n) when the page was read
    valid_until: float  # time.monotonic() after which the page's total may be stale
    text: str  # the page's items as comma-separated JSON objects
    total: int
    exact: bool


class PageCache:
    """Least-recently-used pages up to ``max_bytes`` of text; ``max_bytes = 0`` turns it off."""

    def __init__(self, max_bytes: int, max_age: float) -> None:
        self.max_bytes, self.max_age = max_bytes, max_age
        self.hits = self.misses = 0
        self._pages: OrderedDict[tuple[Any, ...], Page] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key: tuple[Any, ...]) -> Page | None:
        """The stored page, unless it expired; the caller still checks its ``changes``."""
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if time.monotonic() >= page.valid_until:
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[Any, ...], page: Page) -> None:
        size = len(page.text)
        if size > self.max_bytes // 4:  # one huge page must not evict everything else
            return
        aged = time.monotonic() + self.max_age * (1 + random.random() / 2)  # noqa: S311
        page = page._replace(valid_until=min(page.valid_until, aged))
        with self._lock:
            if key in self._pages:
                self._drop(key)
            self._pages[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def count(self, hit: bool) -> None:
        # Unlocked: a lost increment under contention is acceptable for statistics.
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0

    def _drop(self, key: tuple[Any, ...]) -> None:
        self._bytes -= len(self._pages.pop(key).text)


def note_change(source: Session | Connection, item_id: int | None = None) -> None:
    """Count a change to items in the current transaction: the item's counter, or for changes to
    many items any one. Call it last before the commit: the counter row stays locked until then."""
    shard = item_id % SHARDS if item_id is not None else random.randrange(SHARDS)  # noqa: S311
    source.execute(_BUMP, {"b_shard": shard})
