"""DII (directly identifying information): normalisation, validation and hashing.

Every UID2 starts from a DII hash, ``SHA-256(UTF-8 of the normalised email or phone)``. The
operator and every SDK must agree on that hash byte for byte, or the same person maps to two
different UID2s. This module holds the one place where those rules live (operator.md §3.1,
sdk.md §8).

Two email rules exist because the reference implementations disagree (sdk.md §8.1
"Divergence", §11.11):

* ``EmailRule.OPERATOR``: the Java operator drops spaces *anywhere* in the local part. Our
  operator uses it, and so does our SDK by default: a client-side hash is only useful if it
  equals the hash the operator would compute from the plain email.
* ``EmailRule.SDK_COMPAT``: the official Python SDK skips only *leading* spaces and keeps inner
  local-part spaces. It exists for interop tests and for callers that must reproduce hashes
  made by ``uid2_client``.

The rules agree on every email whose local part has no spaces after its leading ones.

DII must never appear in error messages or logs, so errors here name the kind of input only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import Enum

from uid2.core.encoding import b64decode_strict, b64encode
from uid2.core.enums import IdentityType

DII_HASH_SIZE = 32
_HASH_B64_LENGTH = 44
_HASH_HEX_LENGTH = 64
_GMAIL_DOMAIN = "gmail.com"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# Only ASCII A-Z are lowercased (operator.md §3.1 step 1); str.lower() would also fold
# non-ASCII letters such as 'Ä' and change the hash.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# [0-9] rather than \d: \d matches every Unicode decimal digit, the operator only ASCII.
_OPERATOR_PHONE = re.compile(r"\+[0-9]{10,15}")
_PHONE_MIN_DIGITS = 10
_PHONE_MAX_DIGITS = 15


class EmailRule(Enum):
    """Which side's email normaliser to reproduce (sdk.md §8.1 "Divergence")."""

    OPERATOR = "operator"
    SDK_COMPAT = "sdk_compat"


class DiiKind(Enum):
    """The four request fields that carry an identity; values are the JSON field names."""

    EMAIL = "email"
    EMAIL_HASH = "email_hash"
    PHONE = "phone"
    PHONE_HASH = "phone_hash"

    @property
    def identity_type(self) -> IdentityType:
        if self in (DiiKind.EMAIL, DiiKind.EMAIL_HASH):
            return IdentityType.Email
        return IdentityType.Phone

    @property
    def is_hashed(self) -> bool:
        return self in (DiiKind.EMAIL_HASH, DiiKind.PHONE_HASH)


@dataclass(frozen=True, slots=True)
class HashedDii:
    """An identity reduced to what the protocol needs: its type and its 32-byte DII hash."""

    identity_type: IdentityType
    dii_hash: bytes


# --- email -------------------------------------------------------------------------------------


def normalize_email(email: str, rule: EmailRule = EmailRule.OPERATOR) -> str | None:
    """Normalise an email address, or return None if it is invalid.

    Defaults to the operator's rule (see the module docstring for why). Never raises.
    """
    local, sep, rest = email.translate(_ASCII_LOWER).partition("@")
    if not sep or "@" in rest:
        return None  # no '@', or a second one
    # Domain spaces are written only when a non-space follows: inner and leading ones stay,
    # trailing ones go. Only U+0020 counts; tabs and other whitespace are kept.
    domain = rest.rstrip(" ")
    if not domain:
        return None
    local = _local_part(local, rule, gmail=domain == _GMAIL_DOMAIN)
    if not local:
        return None
    return f"{local}@{domain}"


def normalize_email_sdk_compat(email: str) -> str | None:
    """``normalize_email`` with the official Python SDK's rule (inner local spaces kept)."""
    return normalize_email(email, EmailRule.SDK_COMPAT)


def _local_part(local: str, rule: EmailRule, *, gmail: bool) -> str:
    if rule is EmailRule.OPERATOR:
        local = local.replace(" ", "")  # the Java state machine never keeps a local space
    else:
        local = local.lstrip(" ")  # the Python SDK skips leading spaces only
    if gmail:
        # gmail ignores dots and "+extension"; exactly gmail.com, not googlemail.com.
        local = local.partition("+")[0].replace(".", "")
    return local


# --- phone -------------------------------------------------------------------------------------


def is_phone_valid(phone: str) -> bool:
    """The operator's rule: ``+`` then 10-15 ASCII digits, nothing else (operator.md §3.1).

    Phones are never normalised; they must already be E.164.
    """
    return _OPERATOR_PHONE.fullmatch(phone) is not None


def is_phone_valid_sdk_compat(phone: str | None) -> bool:
    """The official Python SDK's rule (sdk.md §8.2): like ``is_phone_valid`` but any character
    with ``str.isdigit()`` counts as a digit, so '١' and '²' pass. For interop only."""
    if not phone or phone[0] != "+":
        return False
    digits = phone[1:]
    return (
        all(c.isdigit() for c in digits) and _PHONE_MIN_DIGITS <= len(digits) <= _PHONE_MAX_DIGITS
    )


# --- hashing -----------------------------------------------------------------------------------


def hash_dii(normalized: str) -> bytes:
    """SHA-256 of the UTF-8 bytes of an already normalised email or phone (32 bytes)."""
    # errors="replace" turns a lone surrogate into '?', as Java's getBytes(UTF_8) does, so
    # hashing never raises on a string that json.loads can produce.
    return hashlib.sha256(normalized.encode("utf-8", errors="replace")).digest()


def hash_dii_b64(normalized: str) -> str:
    """``hash_dii`` as the 44-character standard base64 the API carries."""
    return b64encode(hash_dii(normalized))


def normalize_and_hash_email(email: str, rule: EmailRule = EmailRule.OPERATOR) -> str:
    """Normalise and hash an email to b64; ValueError if invalid (the message omits the input)."""
    normalized = normalize_email(email, rule)
    if normalized is None:
        raise ValueError("invalid email address")
    return hash_dii_b64(normalized)


def normalize_and_hash_phone(phone: str) -> str:
    """Validate (operator rule) and hash a phone to b64; ValueError if invalid (input omitted)."""
    if not is_phone_valid(phone):
        raise ValueError("invalid phone number: must be '+' followed by 10 to 15 digits")
    return hash_dii_b64(phone)


def parse_hash_input(text: str) -> bytes | None:
    """Read a client-supplied DII hash, or None (operator.md §3.1 "Hash inputs").

    Accepted: 44 characters of strict standard base64 decoding to 32 bytes, or 64 hex
    characters in either case. Never raises.
    """
    if len(text) == _HASH_B64_LENGTH:
        decoded = b64decode_strict(text)
        return decoded if decoded is not None and len(decoded) == DII_HASH_SIZE else None
    # Checked by hand because bytes.fromhex also skips whitespace.
    if len(text) == _HASH_HEX_LENGTH and all(c in _HEX_DIGITS for c in text):
        return bytes.fromhex(text)
    return None


# --- request identities ------------------------------------------------------------------------


def dii_hash_for(kind: DiiKind, value: object) -> bytes | None:
    """The 32-byte DII hash of one request identity, or None if it is invalid.

    ``value`` comes straight from request JSON, so anything that is not a string is invalid
    rather than an error. Emails use the operator rule: this is the operator's entry point.
    """
    if not isinstance(value, str):
        return None
    if kind.is_hashed:
        return parse_hash_input(value)
    if kind is DiiKind.EMAIL:
        normalized = normalize_email(value)
        return None if normalized is None else hash_dii(normalized)
    return hash_dii(value) if is_phone_valid(value) else None


def hashed_dii(kind: DiiKind, value: object) -> HashedDii | None:
    """``dii_hash_for`` together with the identity type the field implies."""
    dii_hash = dii_hash_for(kind, value)
    return None if dii_hash is None else HashedDii(kind.identity_type, dii_hash)
