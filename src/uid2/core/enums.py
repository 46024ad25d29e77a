"""Enumerations shared by every layer.

Member names and values match the official SDK (sdk.md §1.1) so that code moving from
``uid2_client`` keeps working: ``IdentityType.Email`` keeps its CamelCase spelling on purpose.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class IdentityScope(IntEnum):
    UID2 = 0
    EUID = 1


class IdentityType(IntEnum):
    Email = 0  # CamelCase: the official SDK spells it so
    Phone = 1


class AdvertisingTokenVersion(IntEnum):
    ADVERTISING_TOKEN_V2 = 2
    ADVERTISING_TOKEN_V3 = 112
    ADVERTISING_TOKEN_V4 = 128


class IdentityEnvironment(IntEnum):
    """Environment bits of a raw UID v4 (operator.md §3.4)."""

    TEST = 0
    INTEG = 1
    PROD = 2


class ClientType(Enum):
    """Which decryption policy applies (sdk.md §3.3)."""

    SHARING = 1
    BIDSTREAM = 2
    LEGACY_WITHOUT_DOMAIN_CHECK = 3


class DecryptionStatus(Enum):
    DOMAIN_NAME_CHECK_FAILED = "domain name check failed"
    INVALID_PAYLOAD = "invalid payload"
    INVALID_TOKEN_LIFETIME = "invalid token lifetime"
    KEYS_NOT_SYNCED = (
        "no keys available or all keys have expired; refresh the latest keys from UID2 service"
    )
    NOT_AUTHORIZED_FOR_KEY = "not authorized for key"
    NOT_AUTHORIZED_FOR_MASTER_KEY = "not authorized for master key"
    NOT_INITIALIZED = "keys not initialized"
    SUCCESS = "success"
    EXPIRED_TOKEN = "token expired"
    VERSION_NOT_SUPPORTED = "token version not supported"
    # Not in the Python SDK: the token's scope does not match the keys' scope, or the
    # header's scope/type disagrees with the raw UID's own first byte (sdk.md §3.5).
    INVALID_IDENTITY_SCOPE = "invalid identity scope"


class EncryptionStatus(Enum):
    ENCRYPTION_FAILURE = "Failed to encrypt"
    KEYS_NOT_SYNCED = DecryptionStatus.KEYS_NOT_SYNCED.value
    NOT_AUTHORIZED_FOR_KEY = "No Keyset Key Found"
    NOT_AUTHORIZED_FOR_MASTER_KEY = "not authorized for master key"
    NOT_INITIALIZED = "keys not initialized"
    SUCCESS = "success"
    # Not in the Python SDK, which returns None after a print (sdk.md §11.7).
    MISSING_CALLER_SITE_ID = "caller site id missing from keys"
    INVALID_RAW_UID = "raw uid is not 32 or 33 bytes of base64"
