"""Unauthenticated probes and the OpenAPI document."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

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
    kept ``ttl`` seconds per process, so a flood of /readyz costs at most one query a second and
    opens no connection of its own. Only one request probes at a time; the others answer with
    the latest answer meanwhile instead of queueing behind a slow database."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._answer = (-math.inf, False)  # (time.monotonic() of the probe, ready); one object
        self._probing = threading.Lock()

    def ready(self) -> bool:
        at, ok = self._answer
        if time.monotonic() - at < self.ttl or not self._probing.acquire(blocking=False):
            return ok
        try:
            ok = self._probe()
            self._answer = (time.monotonic(), ok)
        finally:
            self._probing.release()
        return ok

    def forget(self) -> None:
        """A request just found the database unavailable: not ready until a probe says so."""
        self._answer = (-math.inf, False)

    @staticmethod
    def _probe() -> bool:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # any failure means "not ready"
            return False


def ready_probe(app: Flask) -> ReadyProbe:
    """The app's probe, made on first use."""
    if (probe := app.extensions.get(PROBE)) is None:
        ttl = app.config["STOCKROOM_SETTINGS"].ready_cache_seconds
        probe = app.extensions.setdefault(PROBE, ReadyProbe(ttl))
    return probe  # type: ignore[no-any-return]


@bp.get("/readyz")
def readyz() -> Any:
    ok = ready_probe(current_app).ready()
    body = {"status": "ready" if ok else "unavailable", "node": current_app.config["NODE_NAME"]}
    if not ok:
        body["error"] = {
            "code": "database_unavailable",
            "message": "the database does not answer",
            "fields": {},
        }
    return jsonify(body), 200 if ok else 503


@bp.get("/openapi.json")
@bp.get("/api/v1/openapi.json")
def openapi() -> Any:
    return jsonify(build_spec(current_app._get_current_object()))  # type: ignore[attr-defined]
