"""SQLAlchemy models. Indexes serve the list/filter/sort paths at 1M items (docs/app.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from stockroom.extensions import db

# MariaDB/MySQL BIGINT, SQLite INTEGER (so SQLite keeps its rowid autoincrement).
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Microsecond timestamps on MySQL/MariaDB (plain DATETIME would truncate to seconds).
Stamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ROLES = ("viewer", "editor", "admin")


def utcnow() -> datetime:
    # Stored naive in UTC (DATETIME(6) has no zone); serialised with a Z suffix.
    return datetime.now(UTC).replace(tzinfo=None)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    # Signed-in sessions carry the version they were issued at; bumping it (logout, new password,
    # deactivation) ends every session of the user on every node.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # SHA-256 of the random token: tokens have 256 bits of entropy, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(Stamp, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(Stamp, nullable=True)


class LoginFailure(db.Model):
    """One failed sign-in per row, by subject ("u:<username>" or "ip:<address>"): the throttle
    (services/throttle.py) counts recent rows, so every node sees the same count."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject: Mapped[str] = mapped_column(String(100))
    failed_at: Mapped[datetime] = mapped_column(Stamp)

    __table_args__ = (
        Index("ix_login_failures_subject_failed_at", "subject", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )


class Item(db.Model):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    location: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    reorder_level: Mapped[int] = mapped_column(BigInteger, default=0)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    # Stored generated column so "low stock" filters use an index instead of comparing two columns
    # on every row.
    low_stock: Mapped[bool] = mapped_column(
        Boolean, Computed("quantity <= reorder_level", persisted=True)
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow, index=True)

    __table_args__ = (
        CheckConstraint("quantity >= 0", name="ck_items_quantity_nonneg"),
        Index("ix_items_name", "name"),
        Index("ix_items_quantity", "quantity"),
        Index("ix_items_category_sku", "category", "sku"),
        Index("ix_items_location_sku", "location", "sku"),
        Index("ix_items_low_stock_sku", "low_stock", "sku"),
    )


class ItemChange(db.Model):
    """Change counters that every write to items through the app bumps (services/page_cache.py)."""

    __tablename__ = "item_changes"
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class Movement(db.Model):
    __tablename__ = "movements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    quantity_after: Mapped[int] = mapped_column(BigInteger)
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)

    __table_args__ = (
        # History of one item, newest first; also the recent-movements feed via the PK.
        Index("ix_movements_item_id_id", "item_id", "id"),
    )


class StockEvent(db.Model):
    """Outbox of low-stock events (services/stock_alerts.py): a movement that takes its item from
    above its reorder level to at or below it writes one row in its own transaction; a publisher
    sends it to SNS after the commit and deletes it. Only events not yet published are here."""

    __tablename__ = "stock_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The stable id consumers drop duplicates by (sent as message attribute and in the body).
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    # No foreign keys: the event describes the item as it was, even after the item is deleted.
    item_id: Mapped[int] = mapped_column(BigInteger)
    movement_id: Mapped[int] = mapped_column(BigInteger)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(BigInteger)
    reorder_level: Mapped[int] = mapped_column(BigInteger)
    node: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Stamp)
    # Delivery: due when next_attempt_at has passed; a publisher claims a row by moving it into
    # the future (its lease) under a claim token of its own.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Stamp, index=True)
    claimed_by: Mapped[str] = mapped_column(String(36), default="")
    last_error: Mapped[str] = mapped_column(String(500), default="")
