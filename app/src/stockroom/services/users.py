"""Users, roles, password hashing and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from stockroom.errors import Conflict, NotFound, ValidationFailed
from stockroom.models import ROLES, ApiToken, User, utcnow

users_t = User.__table__
tokens_t = ApiToken.__table__
USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MIN_PASSWORD = 8
TOKEN_PREFIX = "sr_"  # noqa: S105 - a public marker, not a secret


@dataclass(frozen=True)
class Principal:
    """Who is calling: what a view needs to authorise and to attribute movements."""

    id: int
    username: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def validate_user(username: str, role: str, password: str) -> None:
    fields: dict[str, str] = {}
    if not USERNAME_RE.match(username):
        fields["username"] = "1-64 characters of A-Z a-z 0-9 . _ -"
    if role not in ROLES:
        fields["role"] = f"one of {', '.join(ROLES)}"
    if len(password) < MIN_PASSWORD:
        fields["password"] = f"at least {MIN_PASSWORD} characters"
    if fields:
        raise ValidationFailed("invalid user", fields)


def create_user(session: Session, username: str, role: str, password: str) -> int:
    validate_user(username, role, password)
    try:
        user_id = session.execute(
            insert(users_t).values(
                username=username,
                role=role,
                password_hash=generate_password_hash(password),
                active=True,
                created_at=utcnow(),
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


def set_password(session: Session, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            "invalid password", {"password": f"at least {MIN_PASSWORD} characters"}
        )
    get_user(session, username)
    session.execute(
        update(users_t)
        .where(users_t.c.username == username)
        .values(password_hash=generate_password_hash(password))
    )
    session.commit()


def authenticate_password(session: Session, username: str, password: str) -> Principal | None:
    row = session.execute(select(users_t).where(users_t.c.username == username)).first()
    if row is None or not row.active or not check_password_hash(row.password_hash, password):
        return None
    return Principal(row.id, row.username, row.role)


def principal_by_id(session: Session, user_id: int) -> Principal | None:
    row = session.execute(select(users_t).where(users_t.c.id == user_id)).first()
    if row is None or not row.active:
        return None
    return Principal(row.id, row.username, row.role)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(session: Session, username: str, name: str = "") -> str:
    """Create a token and return it in clear text (shown once; only its hash is stored)."""
    user = get_user(session, username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.execute(
        insert(tokens_t).values(
            user_id=user.id,
            name=name[:100],
            token_hash=_hash_token(token),
            prefix=token[:10],
            created_at=utcnow(),
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


def revoke_token(session: Session, token_id: int) -> None:
    result = session.execute(
        update(tokens_t)
        .where(tokens_t.c.id == token_id, tokens_t.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:
        session.rollback()
        raise NotFound(f"no active token with id {token_id}")
    session.commit()
    TOKEN_CACHE.clear()


class TokenCache:
    """Tiny per-process TTL cache: token hash -> Principal.

    Saves one query per API request under load. The price is that a revoked token keeps working
    in *other* processes for at most the TTL (STOCKROOM_TOKEN_CACHE_SECONDS, 0 disables it).
    """

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, ttl: float) -> Principal | None:
        hit = self._data.get(key)
        if hit is None or time.monotonic() - hit[0] > ttl:
            return None
        return hit[1]

    def put(self, key: str, value: Principal) -> None:
        with self._lock:
            if len(self._data) > 10_000:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


TOKEN_CACHE = TokenCache()


_TOKEN_USER = (
    select(users_t.c.id, users_t.c.username, users_t.c.role, users_t.c.active)
    .join(tokens_t, tokens_t.c.user_id == users_t.c.id)
    .where(tokens_t.c.token_hash == bindparam("token_hash"), tokens_t.c.revoked_at.is_(None))
)


def authenticate_token(session: Session, token: str, cache_ttl: float = 0.0) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = _hash_token(token)
    if cache_ttl > 0 and (hit := TOKEN_CACHE.get(key, cache_ttl)) is not None:
        return hit
    row = session.connection().execute(_TOKEN_USER, {"token_hash": key}).first()
    if row is None or not row.active:
        return None
    principal = Principal(row.id, row.username, row.role)
    if cache_ttl > 0:
        TOKEN_CACHE.put(key, principal)
    return principal
