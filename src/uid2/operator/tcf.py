"""Just enough of an IAB TCF v2 consent string for the EUID consent check (operator.md §1.5).

Consent is sufficient when the purposes {1, 2, 3, 4, 7, 10} are all covered by the union of
the purposes-consent set (counted only if the vendor has consent) and the purposes-LI set
(counted only if the vendor has legitimate interest). Only the core segment is read.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

REQUIRED_PURPOSES = frozenset({1, 2, 3, 4, 7, 10})
_TCF_VERSION = 2
# Core segment offsets, in bits (IAB TCF v2.x "TC String" core fields).
_PURPOSES_CONSENT = 152
_PURPOSES_LI = 176
_VENDOR_CONSENT_SECTION = 213
_PURPOSE_BITS = 24


class TcfError(ValueError):
    """The string is not a TCF v2 consent string."""


@dataclass(frozen=True, slots=True)
class TcfConsent:
    purposes_consent: frozenset[int]
    purposes_li: frozenset[int]
    vendor_consent: tuple[tuple[int, int], ...]  # inclusive vendor-id ranges
    vendor_li: tuple[tuple[int, int], ...]

    def allows(self, vendor_id: int) -> bool:
        granted: set[int] = set()
        if _contains(self.vendor_consent, vendor_id):
            granted |= self.purposes_consent
        if _contains(self.vendor_li, vendor_id):
            granted |= self.purposes_li
        return REQUIRED_PURPOSES <= granted


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._size = len(data) * 8
        self.pos = 0

    def read(self, count: int) -> int:
        if self.pos + count > self._size:
            raise TcfError("consent string is truncated")
        shift = self._size - self.pos - count
        self.pos += count
        return (self._value >> shift) & ((1 << count) - 1)


def parse_tcf(text: str) -> TcfConsent:
    """Parse the core segment; raises :class:`TcfError` for anything unreadable."""
    core = text.split(".", 1)[0]
    try:
        padded = (core + "=" * (-len(core) % 4)).replace("-", "+").replace("_", "/")
        data = binascii.a2b_base64(padded.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise TcfError("consent string is not base64url") from None
    bits = _Bits(data)
    if bits.read(6) != _TCF_VERSION:
        raise TcfError("not a TCF v2 consent string")
    bits.pos = _PURPOSES_CONSENT
    consent = _purposes(bits.read(_PURPOSE_BITS))
    li = _purposes(bits.read(_PURPOSE_BITS))
    bits.pos = _VENDOR_CONSENT_SECTION
    vendor_consent = _vendor_section(bits)
    vendor_li = _vendor_section(bits)
    return TcfConsent(consent, li, vendor_consent, vendor_li)


def _purposes(field: int) -> frozenset[int]:
    return frozenset(i + 1 for i in range(_PURPOSE_BITS) if field >> (_PURPOSE_BITS - 1 - i) & 1)


def _contains(ranges: tuple[tuple[int, int], ...], vendor_id: int) -> bool:
    return any(start <= vendor_id <= end for start, end in ranges)


def _vendor_section(bits: _Bits) -> tuple[tuple[int, int], ...]:
    # Ranges, not sets: a 12-bit count of 16-bit ranges could otherwise expand to 2**28 ids.
    max_vendor = bits.read(16)
    if bits.read(1) == 0:  # bit field
        return tuple((v, v) for v in range(1, max_vendor + 1) if bits.read(1))
    ranges: list[tuple[int, int]] = []
    for _ in range(bits.read(12)):
        is_range = bits.read(1)
        start = bits.read(16)
        end = bits.read(16) if is_range else start
        if end < start or end > max_vendor:
            raise TcfError("bad vendor range")
        ranges.append((start, end))
    return tuple(ranges)


def has_sufficient_consent(text: str, vendor_id: int) -> bool:
    """True if the vendor may process for every required purpose; TcfError if unparsable."""
    return parse_tcf(text).allows(vendor_id)
