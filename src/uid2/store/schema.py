"""The control-plane schema (SQLAlchemy Core tables).

This module is the source of truth the Alembic revisions must reproduce; a test compares the
migrated database with ``metadata``. Columns ending in ``_enc`` hold AES-GCM ciphertext under
the KEK, never plaintext. Repositories map rows to :mod:`uid2.store.records` values.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

store_meta = Table(
    "store_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

store_versions = Table(
    "store_versions",
    metadata,
    Column("store", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("site_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("created_s", BigInteger, nullable=False),
)

site_types = Table(
    "site_types",
    metadata,
    Column("site_id", ForeignKey("sites.site_id"), primary_key=True),
    Column("type", String(32), primary_key=True),
)

site_domains = Table(
    "site_domains",
    metadata,
    Column("site_id", ForeignKey("sites.site_id"), primary_key=True),
    Column("name", String(253), primary_key=True),
)

site_app_names = Table(
    "site_app_names",
    metadata,
    Column("site_id", ForeignKey("sites.site_id"), primary_key=True),
    Column("name", String(255), primary_key=True),
)

client_keys = Table(
    "client_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("site_id", ForeignKey("sites.site_id"), nullable=False, index=True),
    Column("key_hash", String(88), nullable=False),
    Column("key_salt", String(44), nullable=False),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("roles", String(255), nullable=False),  # comma-separated Role values, sorted
    Column("name", String(255), nullable=False),
    Column("contact", String(255), nullable=False),
    Column("created_s", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
    UniqueConstraint("site_id", "name", name="uq_client_keys_site_id_name"),
)

keysets = Table(
    "keysets",
    metadata,
    Column("keyset_id", Integer, primary_key=True, autoincrement=False),
    Column("site_id", Integer, nullable=False, index=True),  # reserved sites are not rows
    Column("name", String(255), nullable=False),
    # True is upstream's allowed_sites = null: readable by every ID_READER (operator.md §4.5)
    Column("acl_open", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_s", BigInteger, nullable=False),
)

keyset_allowed_sites = Table(
    "keyset_allowed_sites",
    metadata,
    Column("keyset_id", ForeignKey("keysets.keyset_id"), primary_key=True),
    Column("site_id", Integer, primary_key=True),
)

keyset_allowed_types = Table(
    "keyset_allowed_types",
    metadata,
    Column("keyset_id", ForeignKey("keysets.keyset_id"), primary_key=True),
    Column("type", String(32), primary_key=True),
)

keyset_keys = Table(
    "keyset_keys",
    metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("keyset_id", ForeignKey("keysets.keyset_id"), nullable=False, index=True),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("created_s", BigInteger, nullable=False),
    Column("activates_s", BigInteger, nullable=False),
    Column("expires_s", BigInteger, nullable=False),
)

salt_config = Table(
    "salt_config",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("first_level_enc", LargeBinary, nullable=False),
    Column("id_prefix", String(8), nullable=False),
    Column("id_secret_enc", LargeBinary, nullable=False),
    Column("bucket_count", Integer, nullable=False),
)

salt_buckets = Table(
    "salt_buckets",
    metadata,
    Column("bucket_index", Integer, primary_key=True, autoincrement=False),
    Column("bucket_id", String(32), nullable=False, unique=True),
    Column("current_salt_enc", LargeBinary, nullable=False),
    Column("previous_salt_enc", LargeBinary, nullable=True),
    Column("last_updated_ms", BigInteger, nullable=False, index=True),
    Column("refresh_from_ms", BigInteger, nullable=False),
)

# --- added by revision 0002 -------------------------------------------------------------------

cstg_keypairs = Table(
    "cstg_keypairs",
    metadata,
    Column("subscription_id", String(16), primary_key=True),
    Column("site_id", ForeignKey("sites.site_id"), nullable=False, index=True),
    Column("public_key", Text, nullable=False),
    Column("private_key_enc", LargeBinary, nullable=False),
    Column("name", String(255), nullable=False),
    Column("contact", String(255), nullable=False),
    Column("created_s", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
)

optouts = Table(  # append-only: rows are never updated or deleted
    "optouts",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("identity_hash", LargeBinary(32), nullable=False, index=True),
    Column("advertising_id", LargeBinary(33), nullable=False, index=True),
    Column("created_s", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("details", Text, nullable=False),
)

# --- added by revision 0003: portal accounts ----------------------------------------------------

audit_log.append_column(Column("site_id", Integer, nullable=True, index=True))

portal_users = Table(
    "portal_users",
    metadata,
    Column("user_id", AutoId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-cased
    Column("password_hash", String(255), nullable=True),  # argon2; NULL until the invite is used
    Column("platform_admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until_ms", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

portal_memberships = Table(
    "portal_memberships",
    metadata,
    Column("user_id", ForeignKey("portal_users.user_id"), primary_key=True),
    Column("site_id", ForeignKey("sites.site_id"), primary_key=True),
    Column("role", String(16), nullable=False),
)

portal_sessions = Table(  # the cookie holds the token; only its SHA-256 is stored
    "portal_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("portal_users.user_id"), nullable=False, index=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

portal_tokens = Table(  # one-time invite and password-reset links; only the SHA-256 is stored
    "portal_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("portal_users.user_id"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False),
)

# --- added by revision 0004: opt-out webhooks and their delivery outbox ----------------------

optout_webhooks = Table(  # a participant's URL template, called once per opt-out
    "optout_webhooks",
    metadata,
    Column("webhook_id", AutoId, primary_key=True, autoincrement=True),
    Column("site_id", ForeignKey("sites.site_id"), nullable=False, index=True),
    Column("url_template", String(2048), nullable=False),
    Column("method", String(8), nullable=False),  # GET | POST
    Column("created_s", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
)

webhook_deliveries = Table(  # the outbox: one row per (webhook, opt-out), written with the opt-out
    "webhook_deliveries",
    metadata,
    Column("webhook_id", ForeignKey("optout_webhooks.webhook_id"), primary_key=True),
    Column("optout_seq", ForeignKey("optouts.seq"), primary_key=True),
    Column("state", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("last_attempt_ms", BigInteger, nullable=True),
    Column("last_status", Integer, nullable=True),  # the receiver's HTTP status
    Column("last_error", String(64), nullable=True),  # a short reason, never a URL or raw UID2
    Column("delivered_ms", BigInteger, nullable=True),
    # the worker's claim: pending rows by due time (delivered rows are never scanned)
    Index("ix_webhook_deliveries_state_next_attempt_ms", "state", "next_attempt_ms"),
)
