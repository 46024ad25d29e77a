"""v4 advertising and sharing tokens: the GCM body in base64url without padding.

Decoding accepts either alphabet, padded or not, as the SDKs do (sdk.md §3.1 step 5): a v4
token re-encoded as padded standard base64 still decrypts.
"""

from __future__ import annotations

from uid2.core.encoding import b64decode_any, b64url_encode
from uid2.core.enums import AdvertisingTokenVersion
from uid2.core.tokens import gcm_token
from uid2.core.tokens.codec import TokenCodec
from uid2.core.tokens.fields import TokenFields

VERSION_BYTE = AdvertisingTokenVersion.ADVERTISING_TOKEN_V4.value  # byte1 = 128


def encode(
    fields: TokenFields,
    *,
    master_secret: bytes,
    site_secret: bytes,
    master_nonce: bytes,
    site_nonce: bytes,
) -> str:
    """v4 token text; ``fields.version`` must be V4. Nonces are the two 12-byte GCM nonces."""
    if fields.version is not AdvertisingTokenVersion.ADVERTISING_TOKEN_V4:
        raise ValueError("v4.encode needs fields.version == ADVERTISING_TOKEN_V4")
    return b64url_encode(
        gcm_token.encode_bytes(
            fields,
            master_secret=master_secret,
            site_secret=site_secret,
            master_nonce=master_nonce,
            site_nonce=site_nonce,
        )
    )


CODEC = TokenCodec(
    version=AdvertisingTokenVersion.ADVERTISING_TOKEN_V4,
    decode_text=b64decode_any,
    open_outer=gcm_token.open_outer,
    open_inner=gcm_token.open_inner,
    encode=encode,
)
