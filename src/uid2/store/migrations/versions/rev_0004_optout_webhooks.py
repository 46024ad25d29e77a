"""Opt-out webhooks (a participant's URL template) and their delivery outbox.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "optout_webhooks",
        sa.Column("webhook_id", _AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.site_id"), nullable=False),
        sa.Column("url_template", sa.String(2048), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_optout_webhooks_site_id", "optout_webhooks", ["site_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "webhook_id",
            _AUTO_ID,
            sa.ForeignKey("optout_webhooks.webhook_id"),
            primary_key=True,
        ),
        sa.Column("optout_seq", _AUTO_ID, sa.ForeignKey("optouts.seq"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("last_attempt_ms", sa.BigInteger, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("delivered_ms", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_ms",
        "webhook_deliveries",
        ["state", "next_attempt_ms"],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("optout_webhooks")
