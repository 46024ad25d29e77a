"""The shape every token-format module provides (style-anchors §7 convention 7).

A codec is a frozen bundle of pure functions. Decoding is split in two so that the SDK
policy can check expiry between the layers, as the SDKs do (sdk.md §3.2 steps 3-6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from uid2.core.enums import AdvertisingTokenVersion, DecryptionStatus
from uid2.core.keys import Keyring
from uid2.core.tokens.fields import InnerLayer, OuterLayer, TokenFields

TextDecoder = Callable[[str], "bytes | None"]
OuterOpener = Callable[[bytes, Keyring], "OuterLayer | DecryptionStatus"]
InnerOpener = Callable[[OuterLayer, bytes], "InnerLayer | DecryptionStatus"]


class Encoder(Protocol):
    """Signature of ``encode``: fields, secrets and explicit nonces/IVs in, token text out."""

    def __call__(
        self,
        fields: TokenFields,
        *,
        master_secret: bytes,
        site_secret: bytes,
        master_nonce: bytes,
        site_nonce: bytes,
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class TokenCodec:
    """One token version.

    :param decode_text: token text to bytes (the version's base64 flavour), or ``None``.
    :param open_outer: bytes + keyring to the master layer, or a status
        (NOT_AUTHORIZED_FOR_MASTER_KEY, INVALID_PAYLOAD).
    :param open_inner: master layer + site-key secret to the site layer, or a status
        (INVALID_PAYLOAD, INVALID_IDENTITY_SCOPE).
    :param encode: see :class:`Encoder`; raises ``ValueError`` for unusable fields.
    """

    version: AdvertisingTokenVersion
    decode_text: TextDecoder
    open_outer: OuterOpener
    open_inner: InnerOpener
    encode: Encoder
