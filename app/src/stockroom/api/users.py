"""User management (admin only) and "who am I"."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify

from stockroom.api import bp
from stockroom.api.helpers import parse_json, require, token_cache
from stockroom.errors import ValidationFailed
from stockroom.extensions import db
from stockroom.schemas import UserCreate, UserUpdate
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
    method = current_app.config["STOCKROOM_SETTINGS"].password_method
    svc.create_user(db.session, data.username, data.role, data.password, method)
    return jsonify(_user(svc.get_user(db.session, data.username))), 201


@bp.patch("/users/<username>")
@require("admin")
def update_user(username: str) -> Any:
    data = parse_json(UserUpdate)
    if not data.active and username == g.principal.username:
        raise ValidationFailed(
            "you cannot deactivate yourself", {"active": "ask another admin to do it"}
        )
    return jsonify(_user(svc.set_active(db.session, username, data.active, token_cache())))
