"""Base64 flavours used by UID2, and big-endian integer helpers.

Decoders return ``None`` instead of raising so that parsers can fail closed with a status.
"""

from __future__ import annotations

import binascii

_STD_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"===", b"==", b"=")  # by length mod 4; "===" is always rejected


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding, as used by v4 tokens."""
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL).rstrip(b"=").decode()


def b64decode_strict(text: str | bytes) -> bytes | None:
    """Strict standard base64 (padding required, no stray characters), or None.

    One C call (``a2b_base64`` in strict mode): every token decrypt runs through here.
    """
    try:
        raw = text.encode("ascii") if isinstance(text, str) else text
        return binascii.a2b_base64(raw, strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, TypeError):
        return None


def b64decode_any(text: str | bytes) -> bytes | None:
    """Either alphabet, padded or not, or None (how the SDKs read v4 tokens, sdk.md §3.1).

    A length of 1 mod 4 is not base64 and gives None.
    """
    try:
        raw = (text.encode("ascii") if isinstance(text, str) else bytes(text)).translate(
            _URL_TO_STD
        )
        return binascii.a2b_base64(raw + _PADDING[len(raw) & 3], strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, TypeError):
        return None


def is_std_b64_char(c: int) -> bool:
    return c in _STD_ALPHABET


def u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "big")


def i32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "big", signed=True)


def i64(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 8], "big", signed=True)
