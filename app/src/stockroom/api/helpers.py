"""Request parsing and authorisation shared by the API views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, get_args

from flask import current_app, g, request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from stockroom.caches import Locked, caches
from stockroom.errors import Forbidden, MalformedRequest, Unauthorized, ValidationFailed
from stockroom.extensions import db
from stockroom.schemas import Reason
from stockroom.services.users import Principal, authenticate_token

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

_FRIENDLY = {
    "extra_forbidden": "unknown field",
}
# A tagged union (MovementCreate) puts the tag first in an error's location: "ship.delta".
_TAGS = frozenset(get_args(Reason))


def _message(e: ErrorDetails, tag: str | None) -> str:
    bound = e.get("ctx", {})
    if tag and bound.get("ge") == 1:
        return f"a {tag} must be positive"
    if tag and bound.get("le") == -1:
        return f"a {tag} must be negative"
    return _FRIENDLY.get(e["type"], e["msg"])


def field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for e in exc.errors(include_url=False):
        loc = [str(p) for p in e["loc"]]
        tag = loc.pop(0) if len(loc) > 1 and loc[0] in _TAGS else None
        if e["type"].startswith("union_tag_"):
            loc = [e["ctx"]["discriminator"].strip("'")]
        key = ".".join(loc) or "body"
        msg = _message(e, tag)
        if key == "quantity" and e["type"] == "extra_forbidden":
            msg = "quantity changes only through movements (POST /items/{id}/movements)"
        fields.setdefault(key, msg)
    return fields


def parse_json(model: type[M]) -> M:
    data = request.get_data(cache=False)
    if not data.strip():
        raise MalformedRequest("a JSON object body is required")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise MalformedRequest("the body is not valid JSON") from None
        raise ValidationFailed("the request body is invalid", field_errors(exc)) from None


def parse_query(model: type[M]) -> M:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("invalid query parameters", field_errors(exc)) from None


def parse_headers(model: type[M]) -> M:
    """The headers ``model`` names (by alias); a malformed one is a 400 naming the header."""
    try:
        return model.model_validate(dict(request.headers))
    except ValidationError as exc:
        raise MalformedRequest("malformed request header", field_errors(exc)) from None


def token_cache() -> Locked | None:
    """The app's token cache, None when STOCKROOM_TOKEN_CACHE_SECONDS is 0."""
    enabled = current_app.config["STOCKROOM_SETTINGS"].token_cache_seconds > 0
    return caches().tokens if enabled else None


def current_principal() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    principal = authenticate_token(db.session, token.strip(), token_cache())
    if principal is None:
        raise Unauthorized("invalid, expired or revoked token")
    return principal


def require(role: str) -> Callable[[F], F]:
    """Decorator: 401 without a valid token, 403 when the user's role is below ``role``."""

    def wrap(view: F) -> F:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not principal.can(role):
                raise Forbidden(f"this needs the {role} role (you are {principal.role})")
            g.principal = principal
            return view(*args, **kwargs)

        inner.required_role = role  # type: ignore[attr-defined]  # read by the OpenAPI document
        return inner  # type: ignore[return-value]

    return wrap
