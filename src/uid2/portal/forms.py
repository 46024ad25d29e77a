"""Reading form fields and JSON members into the values the services take.

Each reader raises :class:`PortalError` naming the field, so a page can show the message next
to it. Pasted lists split on commas, semicolons and whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from uid2.admin.domains import registrable_domain
from uid2.admin.errors import AdminError
from uid2.admin.validation import parse_role, parse_type
from uid2.core.enums import IdentityType
from uid2.portal.errors import PortalError, bad_field
from uid2.store.records import MemberRole, ParticipantType, Role

_SEPARATORS = re.compile(r"[,;\s]+")
MAX_PASTED_ENTRIES = 1000
MAX_SITE_ID = (1 << 31) - 1  # site ids are 32-bit columns
MAX_WHOLE_NUMBER = (1 << 63) - 1  # what a BIGINT column (audit sequence numbers) holds


def split_pasted(text: str) -> list[str]:
    entries = [e for e in _SEPARATORS.split(text) if e]
    if len(entries) > MAX_PASTED_ENTRIES:
        raise bad_field("entries", f"paste at most {MAX_PASTED_ENTRIES} entries at a time")
    return list(dict.fromkeys(entries))


def root_domain(text: str) -> str:
    """``https://shop.example.co.uk:8443/x`` -> ``example.co.uk``; anything else is returned
    lower-cased, for the admin layer to refuse with its reason."""
    candidate = text.strip().lower()
    try:
        host = urlsplit(candidate if "://" in candidate else f"//{candidate}").hostname
    except ValueError:  # e.g. an unbalanced "[" in the host part
        return candidate
    root = registrable_domain(host) if host else None
    return root or candidate


def roles(values: Iterable[str]) -> frozenset[Role]:
    try:
        return frozenset(parse_role(v) for v in values if v.strip())
    except AdminError as error:
        raise bad_field("roles", error.message) from None


def participant_types(values: Iterable[str], field: str = "types") -> frozenset[ParticipantType]:
    try:
        return frozenset(parse_type(v) for v in values if v.strip())
    except AdminError as error:
        raise bad_field(field, error.message) from None


def member_role(value: str) -> MemberRole:
    try:
        return MemberRole(value.strip().lower())
    except ValueError:
        raise bad_field("role", "choose Admin or Operations") from None


def _digits(value: str, limit: int) -> int | None:
    """ASCII digits up to ``limit``, else None (``"¹".isdigit()`` is true, ``int("¹")`` fails)."""
    text = value.strip()
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= limit else None


def site_ids(values: Iterable[str], field: str = "sites") -> frozenset[int]:
    ids = set()
    for value in values:
        number = _digits(value, MAX_SITE_ID)
        if number is None:
            raise bad_field(field, "participants are chosen by their numeric site id")
        ids.add(number)
    return frozenset(ids)


def whole_number(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    number = _digits(value, MAX_WHOLE_NUMBER)
    if number is None:
        raise bad_field(field, "must be a whole number")
    return number


def fraction(value: str, field: str = "fraction") -> float:
    try:
        number = float(value)
    except ValueError:
        raise bad_field(field, "must be a number between 0 and 1") from None
    if not 0 < number <= 1:
        raise bad_field(field, "must be more than 0 and at most 1")
    return number


def required(value: str | None, field: str, label: str) -> str:
    if value is None or not value.strip():
        raise PortalError(400, f"{label} is required", field)
    return value


IDENTITY_TYPES = {"email": IdentityType.Email, "phone": IdentityType.Phone}


def identity_type(value: str) -> IdentityType:
    found = IDENTITY_TYPES.get(value.strip().lower())
    if found is None:
        raise bad_field("identity_type", "choose email or phone")
    return found
