"""Unauthenticated probes and the OpenAPI document."""

from __future__ import annotations

import threading
from typing import Any

from cachetools import TTLCache
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from stockroom import __version__
from stockroom.extensions import db
from stockroom.openapi import build_spec

bp = Blueprint("health", __name__)
PROBE = "stockroom.ready_probe"


@bp.get("/healthz")
def healthz() -> Any:
    # Liveness only: never touches the database (a DB outage must not restart every node).
    return jsonify(status="ok", node=current_app.config["NODE_NAME"], version=__version__)


class ReadyProbe:
    """The database check behind /readyz: one ``SELECT 1`` through the app's own pool, its answer
    kept ``ttl`` seconds per process. A flood of /readyz costs at most one query per second and
    opens no connection of its own; requests that arrive during a probe wait for its answer."""

    def __init__(self, ttl: float) -> None:
        self.cache: TTLCache[str, bool] | None = TTLCache(1, ttl=ttl) if ttl > 0 else None
        self._lock = threading.Lock()

    def ready(self) -> bool:
        with self._lock:
            if self.cache is None:
                return self._probe()
            if (ok := self.cache.get("ok")) is None:
                ok = self.cache["ok"] = self._probe()
            return ok

    def forget(self) -> None:
        """A request just found the database unavailable: the next /readyz asks again."""
        with self._lock:
            if self.cache is not None:
                self.cache.clear()

    @staticmethod
    def _probe() -> bool:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # any failure means "not ready"
            return False


def ready_probe(app: Flask) -> ReadyProbe:
    probe = app.extensions.get(PROBE)
    if probe is None:
        settings = app.config["STOCKROOM_SETTINGS"]
        probe = app.extensions.setdefault(PROBE, ReadyProbe(settings.ready_cache_seconds))
    return probe  # type: ignore[no-any-return]


@bp.get("/readyz")
def readyz() -> Any:
    ok = ready_probe(current_app._get_current_object()).ready()  # type: ignore[attr-defined]
    body = {"status": "ready" if ok else "unavailable", "node": current_app.config["NODE_NAME"]}
    if not ok:
        body["error"] = {
            "code": "database_unavailable",
            "message": "the database does not answer",
            "fields": {},
        }
    return jsonify(body), 200 if ok else 503


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(build_spec())
