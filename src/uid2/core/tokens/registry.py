"""Version dispatch and the policy-free decoder the operator uses.

Parsing runs in the fixed order of style-anchors §7 convention 2: type and length caps, the
version from the first 4 characters (sdk.md §3.1 steps 3-5), the version's base64 flavour,
then the codec's layers. Nothing here raises for bad input; every failure is a status.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType

from uid2.core.encoding import b64decode_any
from uid2.core.enums import AdvertisingTokenVersion, DecryptionStatus
from uid2.core.keys import Keyring
from uid2.core.tokens import v2, v3, v4
from uid2.core.tokens.codec import TokenCodec
from uid2.core.tokens.fields import TokenFields, assemble_fields

# The longest real token is 220 characters (sdk.md §2.3); anything far beyond is not a token.
MAX_TOKEN_CHARS = 1024
MIN_TOKEN_CHARS = 4  # sdk.md §3.1 step 3
ALL_VERSIONS: frozenset[AdvertisingTokenVersion] = frozenset(AdvertisingTokenVersion)
_V2_BYTE0 = 2
_INVALID = DecryptionStatus.INVALID_PAYLOAD


def build_registry(
    codecs: Iterable[TokenCodec],
) -> Mapping[AdvertisingTokenVersion, TokenCodec]:
    """Index codecs by version; a second codec for the same version is a programming error."""
    registry: dict[AdvertisingTokenVersion, TokenCodec] = {}
    for codec in codecs:
        if codec.version in registry:
            raise ValueError(f"duplicate codec for {codec.version!r}")
        registry[codec.version] = codec
    return MappingProxyType(registry)


CODECS = build_registry((v2.CODEC, v3.CODEC, v4.CODEC))


def codec_for(version: AdvertisingTokenVersion) -> TokenCodec:
    return CODECS[version]


def as_token_text(token: object) -> str | None:
    """The token as text within the length caps; bytes are read as the token's ASCII text."""
    if type(token) is str:  # the hot path: one check instead of two isinstance calls
        return token if MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS else None
    if isinstance(token, (bytes, bytearray, memoryview)):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(token, str) or not MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS:
        return None
    return token


def read_version_unverified(text: str) -> AdvertisingTokenVersion | DecryptionStatus:
    """The version from the first 4 characters (either alphabet), sdk.md §3.1 steps 4-5."""
    return _version_of_head(text[:MIN_TOKEN_CHARS])


# Pure and over a small domain (byte0, byte1 and one key-id byte), so memoised.
@functools.lru_cache(maxsize=4096)
def _version_of_head(head_text: str) -> AdvertisingTokenVersion | DecryptionStatus:
    head = b64decode_any(head_text)
    if head is None or len(head) < 2:
        return _INVALID
    if head[0] == _V2_BYTE0:
        return AdvertisingTokenVersion.ADVERTISING_TOKEN_V2
    if head[1] == v3.VERSION_BYTE:
        return AdvertisingTokenVersion.ADVERTISING_TOKEN_V3
    if head[1] == v4.VERSION_BYTE:
        return AdvertisingTokenVersion.ADVERTISING_TOKEN_V4
    return DecryptionStatus.VERSION_NOT_SUPPORTED


def split_token(
    token: object, versions: Collection[AdvertisingTokenVersion] = ALL_VERSIONS
) -> tuple[TokenCodec, bytes] | DecryptionStatus:
    """Caps, version and text decoding: the codec to use and the token bytes, or a status."""
    text = as_token_text(token)
    if text is None:
        return _INVALID
    version = read_version_unverified(text)
    if isinstance(version, DecryptionStatus):
        return version
    if version not in versions:
        return DecryptionStatus.VERSION_NOT_SUPPORTED
    codec = CODECS[version]
    data = codec.decode_text(text)
    return _INVALID if data is None else (codec, data)


def decode_token_fields(
    token: object,
    keyring: Keyring,
    *,
    versions: Collection[AdvertisingTokenVersion] = ALL_VERSIONS,
) -> TokenFields | DecryptionStatus:
    """Decrypt both layers and return every field, with no expiry or lifetime policy.

    For the operator (validate, refresh bookkeeping). Keys are looked up by the ids in the
    token among all keys of ``keyring``. Statuses: INVALID_PAYLOAD, VERSION_NOT_SUPPORTED,
    NOT_AUTHORIZED_FOR_MASTER_KEY, NOT_AUTHORIZED_FOR_KEY, INVALID_IDENTITY_SCOPE.
    """
    split = split_token(token, versions)
    if isinstance(split, DecryptionStatus):
        return split
    codec, data = split
    outer = codec.open_outer(data, keyring)
    if isinstance(outer, DecryptionStatus):
        return outer
    site_key = keyring.get(outer.site_key_id)
    if site_key is None:
        return DecryptionStatus.NOT_AUTHORIZED_FOR_KEY
    inner = codec.open_inner(outer, site_key.secret)
    if isinstance(inner, DecryptionStatus):
        return inner
    return assemble_fields(outer, inner, keyring.identity_scope)


def encode_token(
    fields: TokenFields,
    *,
    master_secret: bytes,
    site_secret: bytes,
    master_nonce: bytes,
    site_nonce: bytes,
) -> str:
    """Encode with the codec of ``fields.version`` (nonces: 16-byte IVs for v2, 12 for v3/v4).

    :raises ValueError: see the codec's ``encode``.
    """
    return CODECS[fields.version].encode(
        fields,
        master_secret=master_secret,
        site_secret=site_secret,
        master_nonce=master_nonce,
        site_nonce=site_nonce,
    )
