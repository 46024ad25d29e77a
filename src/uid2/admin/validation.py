"""Parsing and validation of operator input (names, roles, types, domains, app ids).

Each parser returns the normalised value or raises :class:`AdminError` naming the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from uid2.admin.domains import LOCALHOST, registrable_domain
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.store.records import ParticipantType, Role

MAX_NAME_LENGTH = 255
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_APP_STORE_ID = re.compile(r"^[0-9]{1,20}$")
_BUNDLE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def parse_name(name: str, what: str = "name") -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise AdminError(AdminErrorCode.BAD_NAME, f"invalid {what}: must be 1-255 printable chars")
    return cleaned


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().upper())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise AdminError(
            AdminErrorCode.UNKNOWN_ROLE, f"unknown role {text.strip()!r} (one of {allowed})"
        ) from None


def parse_roles(texts: Iterable[str]) -> frozenset[Role]:
    roles = frozenset(parse_role(t) for t in texts if t.strip())
    if not roles:
        raise AdminError(AdminErrorCode.UNKNOWN_ROLE, "at least one role is required")
    return roles


# API-key roles a participant of each type may hold (portal-and-sharing §2.3 d): bidders read
# bidstream keys, senders generate or encrypt, data holders map. OPTOUT is for the platform only.
ROLES_BY_TYPE: dict[ParticipantType, frozenset[Role]] = {
    ParticipantType.PUBLISHER: frozenset({Role.GENERATOR, Role.SHARER}),
    ParticipantType.ADVERTISER: frozenset({Role.GENERATOR, Role.MAPPER, Role.SHARER}),
    ParticipantType.DSP: frozenset({Role.ID_READER, Role.SHARER}),
    ParticipantType.DATA_PROVIDER: frozenset({Role.GENERATOR, Role.MAPPER, Role.SHARER}),
}


def roles_allowed_for(types: Iterable[ParticipantType]) -> frozenset[Role]:
    return frozenset().union(*(ROLES_BY_TYPE[t] for t in types))


def parse_type(text: str) -> ParticipantType:
    try:
        return ParticipantType(text.strip().lower())
    except ValueError:
        allowed = ", ".join(t.value for t in ParticipantType)
        raise AdminError(
            AdminErrorCode.UNKNOWN_TYPE, f"unknown participant type {text!r} (one of {allowed})"
        ) from None


def parse_domain(text: str) -> str:
    """A root-level (registrable) domain such as ``example.com`` or ``example.co.uk``.

    ``localhost`` is accepted for development. Sub-domains are refused with the root-level
    domain to use instead, since the CSTG origin check compares registrable domains.
    """
    name = text.strip().lower().rstrip(".")
    problem = _domain_problem(name)
    if problem is not None:
        raise AdminError(AdminErrorCode.BAD_DOMAIN, f"invalid domain {text!r}: {problem}")
    return name


def _domain_problem(name: str) -> str | None:
    if "://" in name or "/" in name or ":" in name:
        return "give the bare domain, without scheme, port or path"
    if name == LOCALHOST:
        return None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return "not a valid host name"
    root = registrable_domain(name)
    if root is None:
        return "not a registrable domain (an IP address or a public suffix)"
    if root != name:
        return f"use the root-level domain {root!r}"
    return None


def parse_app_name(text: str) -> str:
    """An app id: an App Store numeric id, or an Android package / iOS bundle id."""
    name = text.strip()
    segments = name.split(".")
    if _APP_STORE_ID.match(name):
        return name
    if len(segments) >= 2 and all(_BUNDLE_SEGMENT.match(s) for s in segments):
        return name
    raise AdminError(
        AdminErrorCode.BAD_APP_NAME,
        f"invalid app name {text!r}: expected an app id like com.example.app or 123456789",
    )


def unique_sorted(values: Iterable[str]) -> tuple[str, ...]:
    """Drop case-insensitive duplicates (the operator compares app names case-insensitively)."""
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower(), value)
    return tuple(sorted(seen.values()))
