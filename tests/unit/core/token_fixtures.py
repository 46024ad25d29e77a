"""Key material and token builders shared by the token unit tests.

Keys 164 (master) and 165 (site 9000) are the official SDK's test keys (sdk.md §9.1).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from uid2.core.enums import AdvertisingTokenVersion, IdentityScope, IdentityType
from uid2.core.keys import Key, Keyring, make_keyring
from uid2.core.tokens import OperatorIdentity, TokenFields, encode_token

V2 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V2
V3 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V3
V4 = AdvertisingTokenVersion.ADVERTISING_TOKEN_V4
ALL = (V2, V3, V4)
GCM = (V3, V4)

MASTER_SECRET = base64.b64decode("iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs=")
SITE_SECRET = base64.b64decode("IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=")
MASTER_KEY_ID = 164
SITE_KEY_ID = 165
SITE_ID = 9000
MASTER_KEYSET_ID = 1
DEFAULT_KEYSET_ID = 99999

EMAIL_UID = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="  # 32 bytes
PHONE_UID = "BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"  # 33 bytes, UID2 phone
UID2_EMAIL_V3 = "AKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb"
EUID_EMAIL_V3 = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb"

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NOW_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NOW_S = NOW_MS // 1000
BIDSTREAM_MAX_S = 3 * 86400 + 10  # operator config + 10 s (sdk.md §3.3)
SHARING_MAX_S = 30 * 86400 + 10


def key(
    key_id: int,
    secret: bytes,
    *,
    site_id: int = -1,
    keyset_id: int | None = None,
    activates_s: int = NOW_S - 86400,
    expires_s: int = NOW_S + 86400,
) -> Key:
    return Key(key_id, secret, activates_s, activates_s, expires_s, site_id, keyset_id)


def master_key(**kw: Any) -> Key:
    return key(MASTER_KEY_ID, MASTER_SECRET, keyset_id=MASTER_KEYSET_ID, **kw)


def site_key(**kw: Any) -> Key:
    return key(SITE_KEY_ID, SITE_SECRET, site_id=SITE_ID, keyset_id=DEFAULT_KEYSET_ID, **kw)


def keyring(keys: list[Key] | None = None, **header: Any) -> Keyring:
    defaults: dict[str, Any] = {
        "identity_scope": IdentityScope.UID2,
        "caller_site_id": SITE_ID,
        "master_keyset_id": MASTER_KEYSET_ID,
        "default_keyset_id": DEFAULT_KEYSET_ID,
        "max_bidstream_lifetime_seconds": BIDSTREAM_MAX_S,
        "max_sharing_lifetime_seconds": SHARING_MAX_S,
    }
    defaults.update(header)
    return make_keyring([master_key(), site_key()] if keys is None else keys, **defaults)


def fields(version: AdvertisingTokenVersion = V4, **overrides: Any) -> TokenFields:
    """A token generated now, valid for one hour, for a UID2 email."""
    gcm = version is not V2
    base = TokenFields(
        version=version,
        identity_scope=IdentityScope.UID2,
        identity_type=IdentityType.Email if gcm else None,
        master_key_id=MASTER_KEY_ID,
        site_key_id=SITE_KEY_ID,
        expires_ms=NOW_MS + HOUR,
        site_id=SITE_ID,
        established_ms=NOW_MS - DAY,
        raw_uid=base64.b64decode(EMAIL_UID),
        generated_ms=NOW_MS if gcm else None,
        refreshed_ms=NOW_MS if gcm else None,
        operator=OperatorIdentity() if gcm else None,
    )
    return dataclasses.replace(base, **overrides)


def nonces(version: AdvertisingTokenVersion) -> dict[str, bytes]:
    size = 16 if version is V2 else 12
    return {"master_nonce": b"\x02" * size, "site_nonce": b"\x01" * size}


def token(
    version: AdvertisingTokenVersion = V4,
    *,
    master_secret: bytes = MASTER_SECRET,
    site_secret: bytes = SITE_SECRET,
    **overrides: Any,
) -> str:
    return encode_token(
        fields(version, **overrides),
        master_secret=master_secret,
        site_secret=site_secret,
        **nonces(version),
    )
