"""Portal accounts: users, memberships, sessions, one-time links; audit rows name their site.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("site_id", sa.Integer, nullable=True))
        batch.create_index("ix_audit_log_site_id", ["site_id"])
    op.create_table(
        "portal_users",
        sa.Column("user_id", _AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("platform_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until_ms", sa.BigInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("email", name="uq_portal_users_email"),
    )
    op.create_table(
        "portal_memberships",
        sa.Column("user_id", _AUTO_ID, sa.ForeignKey("portal_users.user_id"), primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.site_id"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_table(
        "portal_sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", _AUTO_ID, sa.ForeignKey("portal_users.user_id"), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_portal_sessions_user_id", "portal_sessions", ["user_id"])
    op.create_table(
        "portal_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", _AUTO_ID, sa.ForeignKey("portal_users.user_id"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False),
    )
    op.create_index("ix_portal_tokens_user_id", "portal_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("portal_tokens")
    op.drop_table("portal_sessions")
    op.drop_table("portal_memberships")
    op.drop_table("portal_users")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_site_id")
        batch.drop_column("site_id")
