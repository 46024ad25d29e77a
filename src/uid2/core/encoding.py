"""Base64 flavours used by UID2, and big-endian integer helpers.

Decoders return ``None`` instead of raising so that parsers can fail closed with a status.
"""

from __future__ import annotations

import base64
import binascii

_STD_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding, as used by v4 tokens."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode_strict(text: str | bytes) -> bytes | None:
    """Strict standard base64 (padding required, no stray characters), or None."""
    try:
        raw = text.encode("ascii") if isinstance(text, str) else text
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def b64decode_any(text: str | bytes) -> bytes | None:
    """Either alphabet, padded or not, or None (how the SDKs read v4 tokens, sdk.md §3.1)."""
    try:
        raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    except UnicodeEncodeError:
        return None
    raw = raw.translate(_URL_TO_STD).rstrip(b"=")
    if len(raw) % 4 == 1:
        return None
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_std_b64_char(c: int) -> bool:
    return c in _STD_ALPHABET


def u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "big")


def i32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "big", signed=True)


def i64(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 8], "big", signed=True)
