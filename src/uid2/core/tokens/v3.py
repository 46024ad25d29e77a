"""v3 advertising tokens: the GCM body in standard base64 with padding (sdk.md §2.1)."""

from __future__ import annotations

from uid2.core.encoding import b64decode_strict, b64encode
from uid2.core.enums import AdvertisingTokenVersion
from uid2.core.tokens import gcm_token
from uid2.core.tokens.codec import TokenCodec
from uid2.core.tokens.fields import TokenFields

VERSION_BYTE = AdvertisingTokenVersion.ADVERTISING_TOKEN_V3.value  # byte1 = 112


def encode(
    fields: TokenFields,
    *,
    master_secret: bytes,
    site_secret: bytes,
    master_nonce: bytes,
    site_nonce: bytes,
) -> str:
    """v3 token text; ``fields.version`` must be V3. Nonces are the two 12-byte GCM nonces."""
    if fields.version is not AdvertisingTokenVersion.ADVERTISING_TOKEN_V3:
        raise ValueError("v3.encode needs fields.version == ADVERTISING_TOKEN_V3")
    return b64encode(
        gcm_token.encode_bytes(
            fields,
            master_secret=master_secret,
            site_secret=site_secret,
            master_nonce=master_nonce,
            site_nonce=site_nonce,
        )
    )


CODEC = TokenCodec(
    version=AdvertisingTokenVersion.ADVERTISING_TOKEN_V3,
    decode_text=b64decode_strict,
    open_outer=gcm_token.open_outer,
    open_inner=gcm_token.open_inner,
    encode=encode,
)
