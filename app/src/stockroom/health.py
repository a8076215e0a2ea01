"""Unauthenticated probes and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from stockroom import __version__
from stockroom.db import ping
from stockroom.openapi import build_spec

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    # Liveness only: never touches the database (a DB outage must not restart every node).
    return jsonify(status="ok", node=current_app.config["NODE_NAME"], version=__version__)


@bp.get("/readyz")
def readyz() -> Any:
    settings = current_app.config["STOCKROOM_SETTINGS"]
    ok = ping(current_app.config["SQLALCHEMY_DATABASE_URI"], min(settings.db_connect_timeout, 1.0))
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
