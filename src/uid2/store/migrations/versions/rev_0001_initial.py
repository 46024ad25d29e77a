"""Initial control plane: sites, API keys, keysets and keys, salts, store versions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _site_child(table: str, column: str, length: int) -> None:
    op.create_table(
        table,
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.site_id"), primary_key=True),
        sa.Column(column, sa.String(length), primary_key=True),
    )


def _keyset_child(table: str, column: sa.Column[object]) -> None:
    op.create_table(
        table,
        sa.Column("keyset_id", sa.Integer, sa.ForeignKey("keysets.keyset_id"), primary_key=True),
        column,
    )


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "store_versions",
        sa.Column("store", sa.String(32), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    _create_sites()
    _create_client_keys()
    _create_keysets()
    _create_salts()


def _create_sites() -> None:
    op.create_table(
        "sites",
        sa.Column("site_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
    )
    _site_child("site_types", "type", 32)
    _site_child("site_domains", "name", 253)
    _site_child("site_app_names", "name", 255)


def _create_client_keys() -> None:
    op.create_table(
        "client_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.site_id"), nullable=False),
        sa.Column("key_hash", sa.String(88), nullable=False),
        sa.Column("key_salt", sa.String(44), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary, nullable=False),
        sa.Column("roles", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("contact", sa.String(255), nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.UniqueConstraint("site_id", "name", name="uq_client_keys_site_id_name"),
    )
    op.create_index("ix_client_keys_site_id", "client_keys", ["site_id"])


def _create_keysets() -> None:
    op.create_table(
        "keysets",
        sa.Column("keyset_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("acl_open", sa.Boolean, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_keysets_site_id", "keysets", ["site_id"])
    _keyset_child("keyset_allowed_sites", sa.Column("site_id", sa.Integer, primary_key=True))
    _keyset_child("keyset_allowed_types", sa.Column("type", sa.String(32), primary_key=True))
    op.create_table(
        "keyset_keys",
        sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("keyset_id", sa.Integer, sa.ForeignKey("keysets.keyset_id"), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary, nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
        sa.Column("activates_s", sa.BigInteger, nullable=False),
        sa.Column("expires_s", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_keyset_keys_keyset_id", "keyset_keys", ["keyset_id"])


def _create_salts() -> None:
    op.create_table(
        "salt_config",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("first_level_enc", sa.LargeBinary, nullable=False),
        sa.Column("id_prefix", sa.String(8), nullable=False),
        sa.Column("id_secret_enc", sa.LargeBinary, nullable=False),
        sa.Column("bucket_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "salt_buckets",
        sa.Column("bucket_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bucket_id", sa.String(32), nullable=False, unique=True),
        sa.Column("current_salt_enc", sa.LargeBinary, nullable=False),
        sa.Column("previous_salt_enc", sa.LargeBinary, nullable=True),
        sa.Column("last_updated_ms", sa.BigInteger, nullable=False),
        sa.Column("refresh_from_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_salt_buckets_last_updated_ms", "salt_buckets", ["last_updated_ms"])


def downgrade() -> None:
    for table in (
        "salt_buckets",
        "salt_config",
        "keyset_keys",
        "keyset_allowed_types",
        "keyset_allowed_sites",
        "keysets",
        "client_keys",
        "site_app_names",
        "site_domains",
        "site_types",
        "sites",
        "store_versions",
        "store_meta",
    ):
        op.drop_table(table)
