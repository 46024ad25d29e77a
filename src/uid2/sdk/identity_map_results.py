"""Results of ``/v2/identity/map``, ``/v3/identity/map`` and ``/v2/identity/buckets``.

Results are keyed by the caller's original inputs; inputs that hashed to the same value all get
the same result. Unlike the official SDK (sdk.md §11.12), identifiers or body keys this SDK does
not know are ignored rather than fatal, so a newer operator cannot break an older client.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from uid2.sdk._json import parse_status_body
from uid2.sdk.inputs import HashedKind, IdentityMapInput, IdentityMapV3Input


def _success_body(response: str | bytes) -> tuple[str, Any]:
    status, body = parse_status_body(response)
    if status != "success":
        raise ValueError(f"Got unexpected identity map status: {status}")
    return status, body


# -- v2 ----------------------------------------------------------------------------------------


class MappedIdentity:
    def __init__(self, raw_uid: str, bucket_id: str) -> None:
        self._raw_uid = raw_uid
        self._bucket_id = bucket_id

    def get_raw_uid(self) -> str:
        return self._raw_uid

    def get_bucket_id(self) -> str:
        return self._bucket_id


class UnmappedIdentity:
    def __init__(self, reason: str) -> None:
        self._reason = reason

    def get_reason(self) -> str:
        return self._reason


def _entries(body: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    entries = body.get(name) or []
    return [e for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []


class IdentityMapResponse:
    def __init__(self, response: str | bytes, identity_map_input: IdentityMapInput) -> None:
        self._status, body = _success_body(response)
        body = body if isinstance(body, Mapping) else {}
        self._mapped: dict[str, MappedIdentity] = {}
        self._unmapped: dict[str, UnmappedIdentity] = {}
        for entry in _entries(body, "mapped"):
            result = MappedIdentity(str(entry.get("advertising_id")), str(entry.get("bucket_id")))
            for dii in identity_map_input.get_raw_diis(str(entry.get("identifier"))):
                self._mapped[dii] = result
        for entry in _entries(body, "unmapped"):
            reason = UnmappedIdentity(str(entry.get("reason")))
            for dii in identity_map_input.get_raw_diis(str(entry.get("identifier"))):
                self._unmapped[dii] = reason

    def is_success(self) -> bool:
        return self._status == "success"

    @property
    def mapped_identities(self) -> dict[str, MappedIdentity]:
        return self._mapped

    @property
    def unmapped_identities(self) -> dict[str, UnmappedIdentity]:
        return self._unmapped

    @property
    def status(self) -> str:
        return self._status


class Bucket:
    def __init__(self, bucket_id: str, last_updated: str) -> None:
        self._bucket_id = bucket_id
        self._last_updated = last_updated

    def get_bucket_id(self) -> str:
        return self._bucket_id

    def get_last_updated(self) -> str:
        return self._last_updated


class IdentityBucketsResponse:
    def __init__(self, response: str | bytes) -> None:
        self._status, body = _success_body(response)
        entries = [e for e in body if isinstance(e, Mapping)] if isinstance(body, list) else []
        self._buckets = [Bucket(str(e["bucket_id"]), str(e["last_updated"])) for e in entries]

    def is_success(self) -> bool:
        return self._status == "success"

    @property
    def buckets(self) -> list[Bucket]:
        return self._buckets

    @property
    def status(self) -> str:
        return self._status


# -- v3 ----------------------------------------------------------------------------------------


class UnmappedIdentityReason(Enum):
    OPTOUT = "optout"
    INVALID_IDENTIFIER = "invalid identifier"
    UNKNOWN = "unknown"

    @classmethod
    def from_string(cls, reason: str) -> UnmappedIdentityReason:
        try:
            return cls(reason)
        except ValueError:
            return cls.UNKNOWN


class MappedIdentityV3:
    def __init__(self, current_uid: str, previous_uid: str | None, refresh_from: datetime) -> None:
        self._current = current_uid
        self._previous = previous_uid
        self._refresh_from = refresh_from

    @property
    def current_raw_uid(self) -> str:
        return self._current

    @property
    def previous_raw_uid(self) -> str | None:
        return self._previous

    @property
    def refresh_from(self) -> datetime:
        return self._refresh_from


class UnmappedIdentityV3:
    def __init__(self, reason: str) -> None:
        self._raw_reason = reason
        self._reason = UnmappedIdentityReason.from_string(reason)

    @property
    def reason(self) -> UnmappedIdentityReason:
        return self._reason

    @property
    def raw_reason(self) -> str:
        return self._raw_reason


def _v3_result(entry: Mapping[str, Any]) -> MappedIdentityV3 | UnmappedIdentityV3:
    if "e" in entry:
        return UnmappedIdentityV3(str(entry["e"]))
    current, previous, refresh = entry.get("u"), entry.get("p"), entry.get("r")
    if not isinstance(current, str) or not isinstance(refresh, int) or "p" not in entry:
        raise ValueError("identity map v3 entry needs u, p and r, or e")
    if previous is not None and not isinstance(previous, str):
        raise ValueError("identity map v3 entry has a non-string p")
    return MappedIdentityV3(current, previous, datetime.fromtimestamp(refresh, UTC))


class IdentityMapV3Response:
    def __init__(self, response: str | bytes, identity_map_input: IdentityMapV3Input) -> None:
        self._status, body = _success_body(response)
        if not isinstance(body, Mapping):
            raise ValueError("identity map v3 response has no body object")
        self._mapped: dict[str, MappedIdentityV3] = {}
        self._unmapped: dict[str, UnmappedIdentityV3] = {}
        kinds: tuple[HashedKind, ...] = ("email_hash", "phone_hash")
        for kind in kinds:
            self._populate(identity_map_input, kind, body.get(kind) or [])

    def _populate(self, inputs: IdentityMapV3Input, kind: HashedKind, entries: object) -> None:
        if not isinstance(entries, list) or len(entries) != len(inputs.hashes(kind)):
            raise ValueError(f"identity map v3 {kind} results do not line up with the request")
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ValueError("identity map v3 entry is not an object")
            result = _v3_result(entry)
            for dii in inputs.get_input_diis(kind, index):
                if isinstance(result, MappedIdentityV3):
                    self._mapped[dii] = result
                else:
                    self._unmapped[dii] = result

    def is_success(self) -> bool:
        return self._status == "success"

    @property
    def mapped_identities(self) -> dict[str, MappedIdentityV3]:
        return dict(self._mapped)

    @property
    def unmapped_identities(self) -> dict[str, UnmappedIdentityV3]:
        return dict(self._unmapped)

    @property
    def status(self) -> str:
        return self._status
