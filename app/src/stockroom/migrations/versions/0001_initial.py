"""Initial schema: users, api_tokens, items, movements.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id",
            BIGID,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("revoked_at", STAMP, nullable=True),
        **MYSQL,
    )
    op.create_table(
        "items",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("sku", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reorder_level", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(12, 2), nullable=False),
        sa.Column(
            "low_stock", sa.Boolean(), sa.Computed("quantity <= reorder_level", persisted=True)
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_items_quantity_nonneg"),
        **MYSQL,
    )
    op.create_index("ix_items_name", "items", ["name"])
    op.create_index("ix_items_quantity", "items", ["quantity"])
    op.create_index("ix_items_updated_at", "items", ["updated_at"])
    op.create_index("ix_items_category_sku", "items", ["category", "sku"])
    op.create_index("ix_items_location_sku", "items", ["location", "sku"])
    op.create_index("ix_items_low_stock_sku", "items", ["low_stock", "sku"])
    op.create_table(
        "movements",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("item_id", BIGID, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("quantity_after", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        **MYSQL,
    )
    op.create_index("ix_movements_item_id_id", "movements", ["item_id", "id"])


def downgrade() -> None:
    op.drop_table("movements")
    op.drop_table("items")
    op.drop_table("api_tokens")
    op.drop_table("users")
