"""Users, roles, password hashing, sessions' versions and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from stockroom.caches import Locked
from stockroom.config import PASSWORD_METHOD
from stockroom.errors import Conflict, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from stockroom.models import ROLES, ApiToken, User, utcnow
from stockroom.services import throttle

users_t = User.__table__
tokens_t = ApiToken.__table__
USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MIN_PASSWORD = 8
# Longer passwords are refused (the API's UserCreate says the same): hashing stays bounded.
MAX_PASSWORD = 200
TOKEN_PREFIX = "sr_"  # noqa: S105 - a public marker, not a secret


@dataclass(frozen=True)
class Principal:
    """Who is calling: what a view needs to authorise and to attribute movements."""

    id: int
    username: str
    role: str
    session_version: int = 0

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    return None


def validate_user(username: str, role: str, password: str) -> None:
    fields: dict[str, str] = {}
    if not USERNAME_RE.match(username):
        fields["username"] = "1-64 characters of A-Z a-z 0-9 . _ -"
    if role not in ROLES:
        fields["role"] = f"one of {', '.join(ROLES)}"
    if problem := _password_problem(password):
        fields["password"] = problem
    if fields:
        raise ValidationFailed("invalid user", fields)


def hash_password(password: str, method: str = PASSWORD_METHOD) -> str:
    return generate_password_hash(password, method=method)


def _scrypt_params(stored: str) -> tuple[int, ...] | None:
    name, *params = stored.split("$", 1)[0].split(":")
    if name != "scrypt" or len(params) != 3 or not all(p.isdigit() for p in params):
        return None
    return tuple(int(p) for p in params)


def needs_rehash(stored: str, method: str = PASSWORD_METHOD) -> bool:
    """True when ``stored`` is weaker than ``method``: another algorithm or a lower cost."""
    have, want = _scrypt_params(stored), _scrypt_params(method)
    return have is None or want is None or any(h < w for h, w in zip(have, want, strict=True))


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    # Checked against when the user does not exist, so that costs as much as a wrong password.
    return hash_password(secrets.token_urlsafe(16), method)


def create_user(
    session: Session, username: str, role: str, password: str, method: str = PASSWORD_METHOD
) -> int:
    validate_user(username, role, password)
    try:
        user_id = session.execute(
            insert(users_t).values(
                username=username,
                role=role,
                password_hash=hash_password(password, method),
                active=True,
                created_at=utcnow(),
                session_version=1,
            )
        ).inserted_primary_key[0]
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"user {username!r} already exists", {"username": "already exists"}
        ) from None
    return int(user_id)


def get_user(session: Session, username: str) -> Row[Any]:
    row = session.execute(select(users_t).where(users_t.c.username == username)).first()
    if row is None:
        raise NotFound(f"user {username!r} not found")
    return row


def list_users(session: Session) -> list[Row[Any]]:
    return list(session.execute(select(users_t).order_by(users_t.c.username)))


def set_password(
    session: Session, username: str, password: str, method: str = PASSWORD_METHOD
) -> None:
    """Set a new password; every signed-in session of the user ends."""
    if problem := _password_problem(password):
        raise ValidationFailed("invalid password", {"password": problem})
    get_user(session, username)
    session.execute(
        update(users_t)
        .where(users_t.c.username == username)
        .values(
            password_hash=hash_password(password, method),
            session_version=users_t.c.session_version + 1,
        )
    )
    session.commit()


def authenticate_password(
    session: Session, username: str, password: str, method: str = PASSWORD_METHOD
) -> Principal | None:
    """The user when the password is right. An unknown or inactive user costs one hash check too
    (no timing difference); a hash weaker than ``method`` is replaced on success."""
    if not password or len(password) > MAX_PASSWORD or len(username) > 64:
        return None
    row = session.execute(select(users_t).where(users_t.c.username == username)).first()
    if row is None or not row.active:
        check_password_hash(_dummy_hash(method), password)
        return None
    if not check_password_hash(row.password_hash, password):
        return None
    if needs_rehash(row.password_hash, method):
        session.execute(
            update(users_t)
            .where(users_t.c.id == row.id)
            .values(password_hash=hash_password(password, method))
        )
        session.commit()
    return Principal(row.id, row.username, row.role, row.session_version)


def sign_in(
    session: Session, username: str, password: str, address: str | None, method: str
) -> Principal:
    """A web sign-in: throttled per username and per client address across all nodes
    (services/throttle.py). Raises TooManyRequests or Unauthorized."""
    wait = throttle.retry_after(session, username, address)
    if wait:
        raise TooManyRequests(f"Too many failed sign-ins. Try again in {wait} s.", wait)
    principal = authenticate_password(session, username, password, method)
    if principal is None:
        throttle.record_failure(session, username, address)
        raise Unauthorized("Unknown user or wrong password.")
    throttle.record_success(session, username)
    return principal


def principal_by_id(session: Session, user_id: int) -> Principal | None:
    row = session.execute(select(users_t).where(users_t.c.id == user_id)).first()
    if row is None or not row.active:
        return None
    return Principal(row.id, row.username, row.role, row.session_version)


def end_sessions(session: Session, user_id: int) -> None:
    """Every signed-in session of the user ends (their cookies carry the old version)."""
    session.execute(
        update(users_t)
        .where(users_t.c.id == user_id)
        .values(session_version=users_t.c.session_version + 1)
    )
    session.commit()


def set_active(
    session: Session, username: str, active: bool, cache: Locked | None = None
) -> Row[Any]:
    """Activate or deactivate a user. Deactivating ends their sessions and revokes their tokens
    in the same transaction."""
    user = get_user(session, username)
    values: dict[str, Any] = {"active": active}
    if not active:
        values["session_version"] = users_t.c.session_version + 1
        session.execute(
            update(tokens_t)
            .where(tokens_t.c.user_id == user.id, tokens_t.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    session.execute(update(users_t).where(users_t.c.id == user.id).values(values))
    session.commit()
    if cache is not None:
        cache.clear()
    return get_user(session, username)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    session: Session, username: str, name: str = "", expires_in: timedelta | None = None
) -> str:
    """Create a token and return it in clear text (shown once; only its hash is stored)."""
    user = get_user(session, username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(
        insert(tokens_t).values(
            user_id=user.id,
            name=name[:100],
            token_hash=_hash_token(token),
            prefix=token[:10],
            created_at=now,
            expires_at=now + expires_in if expires_in else None,
        )
    )
    session.commit()
    return token


def list_tokens(session: Session, username: str | None = None) -> list[Row[Any]]:
    stmt = (
        select(tokens_t, users_t.c.username)
        .join(users_t, users_t.c.id == tokens_t.c.user_id)
        .order_by(tokens_t.c.id)
    )
    if username:
        stmt = stmt.where(users_t.c.username == username)
    return list(session.execute(stmt))


def token_state(row: Any, now: datetime | None = None) -> str:
    if row.revoked_at:
        return "revoked"
    if row.expires_at and row.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def revoke_token(session: Session, token_id: int, cache: Locked | None = None) -> None:
    result = session.execute(
        update(tokens_t)
        .where(tokens_t.c.id == token_id, tokens_t.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:
        session.rollback()
        raise NotFound(f"no active token with id {token_id}")
    session.commit()
    if cache is not None:
        cache.clear()


_TOKEN_USER = (
    select(
        users_t.c.id, users_t.c.username, users_t.c.role, users_t.c.active, tokens_t.c.expires_at
    )
    .join(tokens_t, tokens_t.c.user_id == users_t.c.id)
    .where(
        tokens_t.c.token_hash == bindparam("token_hash"),
        tokens_t.c.revoked_at.is_(None),
        or_(tokens_t.c.expires_at.is_(None), tokens_t.c.expires_at > bindparam("now")),
    )
)


def authenticate_token(
    session: Session, token: str, cache: Locked | None = None
) -> Principal | None:
    """The token's user. ``cache`` (token hash -> user, a few seconds) saves a query per API
    request; a revoked token keeps working in other processes until its entry expires."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = _hash_token(token)
    now = utcnow()
    if cache is not None and (hit := cache.get(key)) is not None:
        principal, expires_at = hit
        if expires_at is None or expires_at > now:
            return principal  # type: ignore[no-any-return]
        cache.pop(key)
        return None
    row = session.connection().execute(_TOKEN_USER, {"token_hash": key, "now": now}).first()
    if row is None or not row.active:
        return None
    principal = Principal(row.id, row.username, row.role)
    if cache is not None:
        cache.put(key, (principal, row.expires_at))
    return principal
