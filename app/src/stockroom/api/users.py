"""User management (admin only) and "who am I"."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from stockroom.api import bp
from stockroom.api.helpers import parse_json, require
from stockroom.extensions import db
from stockroom.schemas import UserCreate
from stockroom.services import users as svc


def _user(row: Any) -> dict[str, Any]:
    return {"id": row.id, "username": row.username, "role": row.role, "active": bool(row.active)}


@bp.get("/me")
@require("viewer")
def me() -> Any:
    p = g.principal
    return jsonify(id=p.id, username=p.username, role=p.role, active=True)


@bp.get("/users")
@require("admin")
def list_users() -> Any:
    return jsonify(users=[_user(r) for r in svc.list_users(db.session)])


@bp.post("/users")
@require("admin")
def create_user() -> Any:
    data = parse_json(UserCreate)
    svc.create_user(db.session, data.username, data.role, data.password)
    return jsonify(_user(svc.get_user(db.session, data.username))), 201
