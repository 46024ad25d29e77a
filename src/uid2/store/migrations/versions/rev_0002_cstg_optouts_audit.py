"""Client-side keypairs, the append-only opt-out log and the audit trail.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cstg_keypairs",
        sa.Column("subscription_id", sa.String(16), primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.site_id"), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("private_key_enc", sa.LargeBinary, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("contact", sa.String(255), nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_cstg_keypairs_site_id", "cstg_keypairs", ["site_id"])
    op.create_table(
        "optouts",
        sa.Column("seq", _AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("identity_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("advertising_id", sa.LargeBinary(33), nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_optouts_identity_hash", "optouts", ["identity_hash"])
    op.create_index("ix_optouts_advertising_id", "optouts", ["advertising_id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", _AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_at_ms", "audit_log", ["at_ms"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("optouts")
    op.drop_table("cstg_keypairs")
