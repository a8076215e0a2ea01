"""The app's per-process caches: cachetools caches that the factory creates from the settings and
keeps in ``app.extensions["stockroom.caches"]`` (each app its own, so tests never share one).

- ``tokens``: token hash -> its caller (services/users.py), for STOCKROOM_TOKEN_CACHE_SECONDS
  (0 = off);
- ``counts``: list filter -> capped total (services/item_list.py), for
  STOCKROOM_COUNT_CACHE_SECONDS (0 = off);
- ``pages``: GET /items pages (services/page_cache.py), least recently used first within
  STOCKROOM_LIST_CACHE_MB (0 = off), each page with its own expiry;
- ``stats``: dashboard aggregates (services/stats.py), for 30 s.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Hashable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from cachetools import Cache, TLRUCache, TTLCache
from flask import Flask, current_app

from stockroom.config import Settings

KEY = "stockroom.caches"
STATS_SECONDS = 30.0


class Locked:
    """A cachetools cache behind a lock: cachetools caches are not thread-safe (a get reorders the
    LRU list), and gunicorn's gthread workers share them between threads."""

    def __init__(self, cache: Cache[Hashable, Any]) -> None:
        self.cache = cache
        self.hits = self.misses = 0  # counted by the callers that want statistics
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.cache.maxsize > 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            return self.cache.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock, suppress(ValueError):  # larger than the whole cache: not kept
            self.cache[key] = value

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self.cache.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self.cache.clear()


@dataclass(frozen=True)
class Caches:
    tokens: Locked
    counts: Locked
    pages: Locked
    stats: Locked


def init_app(app: Flask, settings: Settings) -> Caches:
    max_age = settings.list_cache_seconds

    def page_expiry(_key: Hashable, page: Any, now: float) -> float:
        # A page expires with its total, or after max_age stretched at random by up to half, so
        # that pages filled together are not all read again at the same moment.
        return min(page.valid_until, now + max_age * (1 + random.random() / 2))  # noqa: S311

    caches = Caches(
        tokens=Locked(TTLCache(10_000, ttl=settings.token_cache_seconds)),
        counts=Locked(TTLCache(512, ttl=settings.count_cache_seconds)),
        pages=Locked(
            TLRUCache(
                int(settings.list_cache_mb * 1024 * 1024),
                ttu=page_expiry,
                getsizeof=lambda page: len(page.text),
            )
        ),
        stats=Locked(TTLCache(16, ttl=STATS_SECONDS)),
    )
    app.extensions[KEY] = caches
    return caches


def caches() -> Caches:
    """The current app's caches."""
    return current_app.extensions[KEY]  # type: ignore[no-any-return]
