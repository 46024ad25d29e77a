"""Values the control plane stores, as frozen dataclasses.

Repositories return these; nothing here knows SQLAlchemy. Secrets are held decrypted in memory
only (``repr=False``); at rest they are sealed under the KEK (see :mod:`uid2.store.secrets`).

Time units follow the upstream store files they replace (operator.md §4.1, §5.2, §7.1):
key and record times are epoch **seconds** (``*_s``), salt times epoch **milliseconds** (``*_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from uid2.core.cstg import KeyEnvironment
from uid2.core.enums import IdentityScope

MASTER_KEYSET_ID = -1
REFRESH_KEYSET_ID = -2
FALLBACK_PUBLISHER_KEYSET_ID = 2
MASTER_SITE_ID = -1
REFRESH_SITE_ID = -2
FALLBACK_PUBLISHER_SITE_ID = 2
RESERVED_KEYSET_IDS = frozenset({MASTER_KEYSET_ID, REFRESH_KEYSET_ID, 1, 2, 3})
LAST_RESERVED_KEYSET_ID = 3  # admin reserves keyset ids 1-3 (operator.md §4.3)
LAST_RESERVED_SITE_ID = 2  # valid participant site ids are > 2


class Role(Enum):
    """API key roles the operator acts on (operator.md §1.2)."""

    GENERATOR = "GENERATOR"
    MAPPER = "MAPPER"
    ID_READER = "ID_READER"
    SHARER = "SHARER"
    OPTOUT = "OPTOUT"


class ParticipantType(Enum):
    """Upstream ``ClientType``; drives type-based sharing grants."""

    PUBLISHER = "publisher"
    ADVERTISER = "advertiser"
    DSP = "dsp"
    DATA_PROVIDER = "data_provider"


class StoreName(Enum):
    """What operators reload; each has its own version (system.md §1.7 ``store_versions``)."""

    SITES = "sites"
    CLIENT_KEYS = "client_keys"
    KEYSETS = "keysets"
    KEYSET_KEYS = "keyset_keys"
    SALTS = "salts"
    CLIENT_SIDE_KEYPAIRS = "client_side_keypairs"
    OPTOUTS = "optouts"


@dataclass(frozen=True, slots=True)
class Site:
    site_id: int
    name: str
    types: frozenset[ParticipantType]
    domain_names: tuple[str, ...]
    app_names: tuple[str, ...]
    enabled: bool
    created_s: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    site_id: int
    key_hash: str  # b64 SHA-512(salt || key); the key itself is never stored
    key_salt: str
    secret: bytes = field(repr=False)
    roles: frozenset[Role]
    name: str
    contact: str
    created_s: int
    disabled: bool


@dataclass(frozen=True, slots=True)
class Keyset:
    keyset_id: int
    site_id: int
    name: str
    # None means "no ACL" (every ID_READER may read), unlike an empty set (operator.md §4.2)
    allowed_sites: frozenset[int] | None
    allowed_types: frozenset[ParticipantType]
    is_default: bool
    enabled: bool
    created_s: int


@dataclass(frozen=True, slots=True)
class KeysetKey:
    key_id: int
    keyset_id: int
    secret: bytes = field(repr=False)
    created_s: int
    activates_s: int
    expires_s: int


@dataclass(frozen=True, slots=True)
class SaltConfig:
    first_level_salt: str = field(repr=False)
    id_prefix: str
    id_secret: str = field(repr=False)
    bucket_count: int


@dataclass(frozen=True, slots=True)
class SaltBucket:
    index: int  # the line number in the upstream salt file
    bucket_id: (
        str  # id_prefix + Hashids(id_secret, min_length=9).encode(FIRST_BUCKET_NUMBER + index)
    )
    current_salt: str = field(repr=False)
    previous_salt: str | None = field(repr=False)
    last_updated_ms: int
    refresh_from_ms: int


@dataclass(frozen=True, slots=True)
class CstgKeypair:
    subscription_id: str
    site_id: int
    public_key: str  # UID2-X-L- + b64(SPKI DER): given to publishers, not secret
    private_key: str = field(repr=False)  # UID2-Y-L- + b64(PKCS#8 DER)
    name: str
    contact: str
    created_s: int
    disabled: bool


@dataclass(frozen=True, slots=True)
class OptOut:
    seq: int
    identity_hash: bytes  # the first-level hash (operator.md §6.1)
    advertising_id: bytes
    created_s: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at_ms: int
    actor: str
    action: str
    target: str
    details: str  # JSON, never a secret
    site_id: int | None = None  # the participant the change concerns, for its own trail
    seq: int = 0  # assigned by the store


class MemberRole(Enum):
    """A portal user's role in one participant (portal-and-sharing §2.2)."""

    ADMIN = "admin"
    OPERATIONS = "operations"


class TokenPurpose(Enum):
    INVITE = "invite"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class PortalUser:
    user_id: int
    email: str  # lower-cased
    password_hash: str | None = field(repr=False)  # None until an invite link is used
    platform_admin: bool
    disabled: bool
    failed_logins: int
    locked_until_ms: int
    created_ms: int

    @property
    def pending(self) -> bool:
        return self.password_hash is None


@dataclass(frozen=True, slots=True)
class Membership:
    user_id: int
    site_id: int
    role: MemberRole


@dataclass(frozen=True, slots=True)
class PortalSession:
    session_hash: str  # hex SHA-256 of the cookie's token
    user_id: int
    created_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class OneTimeToken:
    token_hash: str  # hex SHA-256 of the link's token
    user_id: int
    purpose: TokenPurpose
    created_ms: int
    expires_ms: int
    used: bool


class WebhookMethod(Enum):
    """How an opt-out webhook is called: with an empty body either way (system.md §2.3)."""

    GET = "GET"
    POST = "POST"


class DeliveryState(Enum):
    PENDING = "pending"  # due at ``next_attempt_ms`` (or being sent)
    DELIVERED = "delivered"  # the receiver answered 200 or 204
    FAILED = "failed"  # refused for good (another status, too many attempts, webhook disabled)


@dataclass(frozen=True, slots=True)
class OptOutWebhook:
    webhook_id: int
    site_id: int
    url_template: str  # holds ${ADVERTISING_ID} and maybe ${OPTOUT_EPOCH}
    method: WebhookMethod
    created_s: int
    disabled: bool


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One opt-out to one webhook. ``last_error`` is a short reason, never a URL or raw UID2."""

    webhook_id: int
    optout_seq: int
    state: DeliveryState
    attempts: int
    created_ms: int
    next_attempt_ms: int
    last_attempt_ms: int | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery with what sending it needs (the raw UID2 stays in memory)."""

    webhook_id: int
    optout_seq: int
    attempts: int
    url_template: str
    method: WebhookMethod
    advertising_id: bytes = field(repr=False)
    optout_created_s: int


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one attempt changed on its row."""

    webhook_id: int
    optout_seq: int
    state: DeliveryState
    attempts: int
    next_attempt_ms: int
    last_attempt_ms: int
    last_status: int | None
    last_error: str | None
    delivered_ms: int | None


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """A webhook's outbox: ``oldest_pending_ms`` is when its oldest pending row was written."""

    delivered: int = 0
    pending: int = 0
    failed: int = 0
    oldest_pending_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Backlog:
    """The whole outbox: deliveries pending on every webhook, and when the oldest was written."""

    pending: int
    oldest_created_ms: int | None  # None when nothing is pending


@dataclass(frozen=True, slots=True)
class StoreInfo:
    identity_scope: IdentityScope
    environment: KeyEnvironment  # the letter after the second dash of keys
