"""Security: session versions on users, token expiry, the login throttle's failure log.

- users.session_version: a signed-in session is valid only while it carries the user's current
  version (logout, a new password and deactivation bump it);
- api_tokens.expires_at: tokens may be created with an expiry (NULL = none);
- login_failures: one row per failed sign-in, shared by every node (services/throttle.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("api_tokens", sa.Column("expires_at", STAMP, nullable=True))
    op.create_table(
        "login_failures",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("failed_at", STAMP, nullable=False),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        "ix_login_failures_subject_failed_at", "login_failures", ["subject", "failed_at"]
    )
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
