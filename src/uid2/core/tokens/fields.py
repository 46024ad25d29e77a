"""What an advertising or sharing token carries, as plain values.

:class:`TokenFields` is the public, decoded view (and the input to the encoders). The two
``NamedTuple`` layers are the parse results of the outer (master-key) and inner (site-key)
envelopes; they are tuples because the decrypt hot path builds them for every token and a
tuple costs a fraction of a frozen dataclass (sdk.md §10, §11.14).

Layouts: sdk.md §2.2 (v2), §2.3 and operator.md §3.6 (v3/v4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from uid2.core.encoding import b64encode
from uid2.core.enums import AdvertisingTokenVersion, IdentityScope, IdentityType

# Privacy bits in the operator's int32 (sdk.md §2.3, operator.md §3.5).
PRIVACY_LEGACY = 0x1
PRIVACY_CSTG = 0x2  # client-side generated
PRIVACY_CSTG_OPTOUT = 0x4

OPERATOR_TYPE_SERVICE = 1  # generator and SDK-made tokens (sdk.md §2.3)
RAW_UID_SIZES = (32, 33)  # raw UID v2 (32) and v3/v4 (33), operator.md §3.4
SCOPE_TYPE_MASK = 0x1C  # scope<<4 | type<<2 in header byte0 and raw-UID byte0


@dataclass(frozen=True, slots=True)
class OperatorIdentity:
    """The operator that minted a v3/v4 token; constant in practice (operator.md §3.5)."""

    site_id: int = 0
    type: int = OPERATOR_TYPE_SERVICE
    version: int = 0
    key_id: int = 0


@dataclass(frozen=True, slots=True)
class TokenFields:
    """Everything a v2, v3 or v4 advertising token carries.

    v2 tokens carry neither identity scope nor type (the scope comes from the keyring,
    the type is ``None``), nor generated/refreshed times or an operator identity.
    """

    version: AdvertisingTokenVersion
    identity_scope: IdentityScope
    identity_type: IdentityType | None
    master_key_id: int
    site_key_id: int
    expires_ms: int
    site_id: int
    established_ms: int
    raw_uid: bytes = field(repr=False)
    generated_ms: int | None = None
    refreshed_ms: int | None = None
    operator: OperatorIdentity | None = None
    publisher_id: int = 0
    client_key_id: int = 0
    privacy_bits: int = 0

    @property
    def uid(self) -> str:
        """The raw UID as standard base64 (how the SDKs report it, sdk.md §2.3)."""
        return b64encode(self.raw_uid)

    @property
    def is_client_side_generated(self) -> bool:
        # Bit 0x2 of the int, not the SDK's bitarray index 1 (sdk.md §11.2).
        return bool(self.privacy_bits & PRIVACY_CSTG)


class OuterLayer(NamedTuple):
    """The master-key layer, authenticated (v3/v4) or at least decrypted (v2)."""

    version: AdvertisingTokenVersion
    identity_scope: IdentityScope | None  # None for v2: not in the token
    identity_type: IdentityType | None
    header_byte0: int
    master_key_id: int
    expires_ms: int
    generated_ms: int | None
    operator: tuple[int, int, int, int] | None  # site id, type, version, key id
    site_key_id: int
    sealed_site_payload: bytes


class InnerLayer(NamedTuple):
    """The site-key layer: who the token is for and the raw UID."""

    site_id: int
    publisher_id: int
    client_key_id: int
    privacy_bits: int
    established_ms: int
    refreshed_ms: int | None
    raw_uid: bytes


def identity_type_from_byte0(byte0: int) -> IdentityType:
    """Type bits of a header or raw-UID byte0; like the SDK, anything non-zero is Phone."""
    return IdentityType.Email if (byte0 & 0x0F) >> 2 == 0 else IdentityType.Phone


def identity_scope_from_byte0(byte0: int) -> IdentityScope:
    return IdentityScope.EUID if byte0 & 0x10 else IdentityScope.UID2


# byte0 -> (scope, type), precomputed for the decrypt hot path.
SCOPE_AND_TYPE_BY_BYTE0: tuple[tuple[IdentityScope, IdentityType], ...] = tuple(
    (identity_scope_from_byte0(b), identity_type_from_byte0(b)) for b in range(256)
)


def assemble_fields(
    outer: OuterLayer, inner: InnerLayer, scope_if_absent: IdentityScope
) -> TokenFields:
    """Join both layers into the public view (v2 takes its scope from the keyring)."""
    op = outer.operator
    scope = scope_if_absent if outer.identity_scope is None else outer.identity_scope
    return TokenFields(
        version=outer.version,
        identity_scope=scope,
        identity_type=outer.identity_type,
        master_key_id=outer.master_key_id,
        site_key_id=outer.site_key_id,
        expires_ms=outer.expires_ms,
        site_id=inner.site_id,
        established_ms=inner.established_ms,
        raw_uid=inner.raw_uid,
        generated_ms=outer.generated_ms,
        refreshed_ms=inner.refreshed_ms,
        operator=None if op is None else OperatorIdentity(*op),
        publisher_id=inner.publisher_id,
        client_key_id=inner.client_key_id,
        privacy_bits=inner.privacy_bits,
    )
