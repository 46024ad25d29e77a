"""Token text to bytes, tuned for the decrypt hot path (sdk.md §10: decode once, no raising).

Same contracts as :func:`uid2.core.encoding.b64decode_strict` / ``b64decode_any`` but one C
call each (``binascii.a2b_base64(strict_mode=True)``), since every decrypt runs two of them.
"""

from __future__ import annotations

import binascii

_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"===", b"==", b"=")  # indexed by len % 4; "===" is always rejected


def decode_std(text: str) -> bytes | None:
    """Standard alphabet with its padding (v2, v3), or ``None``."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        return None


def decode_std_or_url(text: str) -> bytes | None:
    """Either alphabet, padded or not (v4, and the 4-character header), or ``None``.

    A length of 1 mod 4 is not base64 (sdk.md §3.1 step 5).
    """
    try:
        raw = text.encode("ascii").translate(_URL_TO_STD)
        return binascii.a2b_base64(raw + _PADDING[len(raw) & 3], strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
