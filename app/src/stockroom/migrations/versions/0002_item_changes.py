"""item_changes: counters that every change to items bumps in its own transaction.

The API caches list pages per process and serves one only while SUM(item_changes.n) is what it
was when the page was read (services/page_cache.py). 64 counter rows, one picked at random by
each writing transaction, so concurrent writers rarely wait for the same one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SHARDS = 64


def upgrade() -> None:
    changes = op.create_table(
        "item_changes",
        sa.Column("shard", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False, server_default="0"),
        mysql_engine="InnoDB",
    )
    op.bulk_insert(changes, [{"shard": s, "n": 0} for s in range(SHARDS)])


def downgrade() -> None:
    op.drop_table("item_changes")
