"""Advertising tokens (v2, v3, v4) and sharing tokens.

One module per format (:mod:`.v2`, :mod:`.v3`, :mod:`.v4` over :mod:`.gcm_token`), a
version registry (:mod:`.registry`), the SDK decryption policy (:mod:`.decrypt`) and sharing
encryption (:mod:`.sharing`). Everything is pure: time, nonces and IVs are arguments.
"""

from __future__ import annotations

from uid2.core.tokens.codec import Encoder as Encoder
from uid2.core.tokens.codec import TokenCodec as TokenCodec
from uid2.core.tokens.decrypt import decrypt_token as decrypt_token
from uid2.core.tokens.fields import OPERATOR_TYPE_SERVICE as OPERATOR_TYPE_SERVICE
from uid2.core.tokens.fields import PRIVACY_CSTG as PRIVACY_CSTG
from uid2.core.tokens.fields import PRIVACY_CSTG_OPTOUT as PRIVACY_CSTG_OPTOUT
from uid2.core.tokens.fields import PRIVACY_LEGACY as PRIVACY_LEGACY
from uid2.core.tokens.fields import RAW_UID_SIZES as RAW_UID_SIZES
from uid2.core.tokens.fields import OperatorIdentity as OperatorIdentity
from uid2.core.tokens.fields import TokenFields as TokenFields
from uid2.core.tokens.registry import ALL_VERSIONS as ALL_VERSIONS
from uid2.core.tokens.registry import CODECS as CODECS
from uid2.core.tokens.registry import MAX_TOKEN_CHARS as MAX_TOKEN_CHARS
from uid2.core.tokens.registry import build_registry as build_registry
from uid2.core.tokens.registry import codec_for as codec_for
from uid2.core.tokens.registry import decode_token_fields as decode_token_fields
from uid2.core.tokens.registry import encode_token as encode_token
from uid2.core.tokens.registry import read_version_unverified as read_version_unverified
from uid2.core.tokens.result import DecryptResult as DecryptResult
from uid2.core.tokens.result import has_valid_lifetime as has_valid_lifetime
from uid2.core.tokens.sharing import DEFAULT_TOKEN_EXPIRY_SECONDS as DEFAULT_TOKEN_EXPIRY_SECONDS
from uid2.core.tokens.sharing import EncryptResult as EncryptResult
from uid2.core.tokens.sharing import encrypt_raw_uid as encrypt_raw_uid

__all__ = [
    "ALL_VERSIONS",
    "CODECS",
    "DEFAULT_TOKEN_EXPIRY_SECONDS",
    "DecryptResult",
    "Encoder",
    "EncryptResult",
    "MAX_TOKEN_CHARS",
    "OPERATOR_TYPE_SERVICE",
    "OperatorIdentity",
    "PRIVACY_CSTG",
    "PRIVACY_CSTG_OPTOUT",
    "PRIVACY_LEGACY",
    "RAW_UID_SIZES",
    "TokenCodec",
    "TokenFields",
    "build_registry",
    "codec_for",
    "decode_token_fields",
    "decrypt_token",
    "encode_token",
    "encrypt_raw_uid",
    "has_valid_lifetime",
    "read_version_unverified",
]
