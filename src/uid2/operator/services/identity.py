"""Identity map v2 and v3, salt buckets and opt-out status (operator.md §1.10-§1.12, §1.16).

The map loops are the hot path for bulk callers (10,000 DII per request): per-request
constants are hoisted and each identifier costs a few hashes and dictionary lookups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from uid2.core.dii import DiiKind, dii_hash_for
from uid2.core.encoding import b64encode
from uid2.core.rawuid import (
    bucket_index,
    first_level_hash,
    previous_uid_visible,
    raw_uid_v2,
    raw_uid_v3,
    refresh_from_for,
)
from uid2.operator.errors import client_error
from uid2.operator.services.common import (
    ALL_KINDS,
    exactly_one_message,
    identity_kinds,
    opted_out_for_generate,
    success,
)
from uid2.operator.settings import Settings
from uid2.operator.snapshot import Snapshot

V3_MISSING = (
    "Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash]"
    " must be specified"
)
V3_BAD_FORMAT = "Incorrect request format"
_V3_ALLOWED_KEYS = frozenset(k.value for k in ALL_KINDS) | {"link_id"}
_OPTOUT_V3 = {"e": "optout"}
_INVALID_V3 = {"e": "invalid identifier"}
# ISO local date-time, read as UTC; up to 9 fractional digits (Python isoformat sends 6).
_SINCE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?")


class _Mapper:
    """Per-request constants for mapping many identifiers with one snapshot."""

    __slots__ = ("flh_salt", "count", "current", "scope", "v3", "snapshot")

    def __init__(self, snapshot: Snapshot, settings: Settings) -> None:
        self.snapshot = snapshot
        self.flh_salt = snapshot.salts.first_level_salt
        self.count = snapshot.salts.bucket_count
        self.current = snapshot.salts.current
        self.scope = snapshot.identity_scope
        self.v3 = settings.uses_raw_uid_v3

    def flh(self, kind: DiiKind, value: object) -> bytes | None:
        dii_hash = dii_hash_for(kind, value)
        return None if dii_hash is None else first_level_hash(dii_hash, self.flh_salt)

    def raw_uid(self, kind: DiiKind, flh: bytes, salt: str) -> bytes:
        if self.v3:
            return raw_uid_v3(flh, salt, self.scope, kind.identity_type)
        return raw_uid_v2(flh, salt)


# ---------------------------------------------------------------------------- map v2


def map_v2(snapshot: Snapshot, settings: Settings, request: Mapping[str, object] | None) -> bytes:
    kind, values = _v2_input(request, settings)
    mapper = _Mapper(snapshot, settings)
    bucket_ids = snapshot.salts.bucket_ids
    mapped: list[dict[str, object]] = []
    unmapped: list[dict[str, object]] = []
    for value in values:
        identifier = "null" if value is None else value
        flh = mapper.flh(kind, value)
        if flh is None:
            unmapped.append({"identifier": identifier, "reason": "invalid identifier"})
        elif opted_out_for_generate(snapshot, kind.identity_type, flh):
            unmapped.append({"identifier": identifier, "reason": "optout"})
        else:
            index = bucket_index(flh, mapper.count)
            raw = mapper.raw_uid(kind, flh, mapper.current[index])
            mapped.append(
                {
                    "identifier": identifier,
                    "advertising_id": b64encode(raw),
                    "bucket_id": bucket_ids[index],
                }
            )
    body: dict[str, object] = {"mapped": mapped}
    if unmapped:
        body["unmapped"] = unmapped
    return success(body)


def _v2_input(
    request: Mapping[str, object] | None, settings: Settings
) -> tuple[DiiKind, list[object]]:
    """The one non-empty array (operator.md §1.10); empty arrays map to nothing."""
    present: list[tuple[DiiKind, list[object]]] = []
    for kind in identity_kinds(settings):
        value = None if request is None else request.get(kind.value)
        if value is None:
            continue
        if not isinstance(value, list):
            raise client_error(f"{kind.value} must be an array")
        present.append((kind, value))
    non_empty = [(kind, values) for kind, values in present if values]
    if not present or len(non_empty) > 1:
        raise client_error(exactly_one_message(settings))
    return non_empty[0] if non_empty else (DiiKind.EMAIL, [])


# ---------------------------------------------------------------------------- map v3


def map_v3(
    snapshot: Snapshot, settings: Settings, request: Mapping[str, object] | None, now_ms: int
) -> bytes:
    inputs = _v3_input(request)
    mapper = _Mapper(snapshot, settings)
    body = {
        kind.value: _map_v3_list(snapshot, mapper, kind, values, now_ms) for kind, values in inputs
    }
    return success(body)


def _v3_input(request: Mapping[str, object] | None) -> list[tuple[DiiKind, list[str]]]:
    if not request:
        raise client_error(V3_MISSING)
    if any(key not in _V3_ALLOWED_KEYS for key in request):
        raise client_error(V3_BAD_FORMAT)
    if all(key == "link_id" for key in request):
        raise client_error(V3_MISSING)
    inputs: list[tuple[DiiKind, list[str]]] = []
    for kind in ALL_KINDS:
        values = request.get(kind.value)
        if values is None:
            values = []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise client_error(V3_BAD_FORMAT)
        inputs.append((kind, values))
    return inputs


def _map_v3_list(
    snapshot: Snapshot, mapper: _Mapper, kind: DiiKind, values: list[str], now_ms: int
) -> list[Mapping[str, object]]:
    salts = snapshot.salts
    out: list[Mapping[str, object]] = []
    for value in values:
        flh = mapper.flh(kind, value)
        if flh is None:
            out.append(_INVALID_V3)
            continue
        if opted_out_for_generate(snapshot, kind.identity_type, flh):
            out.append(_OPTOUT_V3)
            continue
        index = bucket_index(flh, mapper.count)
        current = b64encode(mapper.raw_uid(kind, flh, mapper.current[index]))
        previous_salt = salts.previous[index]
        previous = None
        if previous_salt is not None and previous_uid_visible(salts.last_updated_ms[index], now_ms):
            previous = b64encode(mapper.raw_uid(kind, flh, previous_salt))
        refresh_s = refresh_from_for(salts.refresh_from_ms[index], now_ms) // 1000
        out.append({"u": current, "p": previous, "r": refresh_s})
    return out


# ---------------------------------------------------------------------------- buckets


def buckets(snapshot: Snapshot, request: Mapping[str, object] | None) -> bytes:
    since = None if request is None else request.get("since_timestamp")
    if since is None:
        raise client_error("missing parameter since_timestamp")
    since_ms = parse_since(since)
    if since_ms is None:
        raise client_error("invalid date, must conform to ISO 8601")
    salts = snapshot.salts
    body = [
        {"bucket_id": salts.bucket_ids[i], "last_updated": _format_ms(updated)}
        for i, updated in enumerate(salts.last_updated_ms)
        if updated >= since_ms
    ]
    return success(body)


def parse_since(value: object) -> int | None:
    """``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` as UTC epoch ms, or None."""
    match = _SINCE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    millis = int((fraction or "0").ljust(3, "0")[:3])
    return int(moment.timestamp()) * 1000 + millis


def _format_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}"


# ---------------------------------------------------------------------------- opt-out status


def optout_status(
    snapshot: Snapshot, settings: Settings, request: Mapping[str, object] | None
) -> bytes:
    if request is None:
        raise client_error("Invalid request body")
    ids = request.get("advertising_ids")
    if ids is None:
        raise client_error("Required Parameter Missing: advertising_ids")
    if not isinstance(ids, list):
        raise client_error("Invalid request body")
    if len(ids) > settings.optout_status_max_request_size:
        raise client_error("Request payload is too large")
    lookup = snapshot.optouts.raw_uid_opted_out_since
    opted_out = []
    for advertising_id in ids:
        since = lookup(advertising_id) if isinstance(advertising_id, str) else None
        if since is not None:
            opted_out.append({"advertising_id": advertising_id, "opted_out_since": since * 1000})
    return success({"opted_out": opted_out})
