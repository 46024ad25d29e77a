"""Parse the operator's key responses (``/v2/key/sharing``, ``/v2/key/bidstream``) into a
:class:`~uid2.core.keys.Keyring`.

Accepts the decrypted response text the official SDK's ``_refresh_json`` takes (``{"body": {...}}``,
with or without ``"status"``), or the body object itself. Numeric header fields are accepted as
JSON numbers or numeric strings (the operator sends ``token_expiry_seconds`` as a string,
sdk.md §11.8). Unknown fields are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from uid2.core.encoding import b64decode_any
from uid2.core.enums import IdentityScope
from uid2.core.errors import KeyParseError
from uid2.core.keys import DEFAULT_ALLOW_CLOCK_SKEW_SECONDS, Key, Keyring, make_keyring


class KeyParseStatus(Enum):
    INVALID_JSON = "key response is not valid JSON"
    MISSING_BODY = "key response has no body object"
    MISSING_KEYS = "key response body has no keys array"
    INVALID_KEY = "key entry is malformed"
    INVALID_FIELD = "key response header field has the wrong type"


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _required_int(entry: Mapping[str, Any], name: str) -> int:
    value = _as_int(entry.get(name))
    if value is None:
        raise KeyParseError(KeyParseStatus.INVALID_KEY, f"key field {name!r} missing or not int")
    return value


def parse_key(entry: object) -> Key:
    if not isinstance(entry, Mapping):
        raise KeyParseError(KeyParseStatus.INVALID_KEY, "key entry is not an object")
    secret_text = entry.get("secret")
    secret = b64decode_any(secret_text) if isinstance(secret_text, str) else None
    if not secret:
        raise KeyParseError(KeyParseStatus.INVALID_KEY, "key secret missing or not base64")
    keyset_id = entry.get("keyset_id")
    site_id = entry.get("site_id", -1)
    if keyset_id is not None and _as_int(keyset_id) is None:
        raise KeyParseError(KeyParseStatus.INVALID_KEY, "keyset_id is not int")
    if site_id is not None and _as_int(site_id) is None:
        raise KeyParseError(KeyParseStatus.INVALID_KEY, "site_id is not int")
    return Key(
        key_id=_required_int(entry, "id"),
        secret=secret,
        created=_required_int(entry, "created"),
        activates=_required_int(entry, "activates"),
        expires=_required_int(entry, "expires"),
        site_id=-1 if site_id is None else _as_int(site_id) or 0,
        keyset_id=None if keyset_id is None else _as_int(keyset_id),
    )


def _parse_site_data(value: object) -> dict[int, frozenset[str]]:
    if not isinstance(value, list):
        return {}
    sites: dict[int, frozenset[str]] = {}
    for item in value:
        if not isinstance(item, Mapping):
            continue
        site_id = _as_int(item.get("id"))
        names = item.get("domain_names")
        if site_id is None or not isinstance(names, list):
            continue
        sites[site_id] = frozenset(n.lower() for n in names if isinstance(n, str))
    return sites


def _header_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    parsed = _as_int(value)
    if parsed is None:
        raise KeyParseError(KeyParseStatus.INVALID_FIELD, f"{name} is not an integer")
    return parsed


def _unwrap_body(document: object) -> Mapping[str, Any]:
    if isinstance(document, Mapping) and "keys" not in document:
        document = document.get("body")
    if not isinstance(document, Mapping):
        raise KeyParseError(KeyParseStatus.MISSING_BODY)
    return document


def parse_key_response(document: str | bytes | Mapping[str, Any]) -> Keyring:
    """Parse a key response; raises :class:`KeyParseError` with a :class:`KeyParseStatus`."""
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError) as exc:
            raise KeyParseError(KeyParseStatus.INVALID_JSON) from exc
    body = _unwrap_body(document)
    raw_keys = body.get("keys")
    if not isinstance(raw_keys, list):
        raise KeyParseError(KeyParseStatus.MISSING_KEYS)
    skew = _header_int(body, "allow_clock_skew_seconds")
    return make_keyring(
        (parse_key(k) for k in raw_keys),
        identity_scope=IdentityScope.EUID
        if body.get("identity_scope") == "EUID"
        else IdentityScope.UID2,
        caller_site_id=_header_int(body, "caller_site_id"),
        master_keyset_id=_header_int(body, "master_keyset_id"),
        default_keyset_id=_header_int(body, "default_keyset_id"),
        token_expiry_seconds=_header_int(body, "token_expiry_seconds"),
        max_sharing_lifetime_seconds=_header_int(body, "max_sharing_lifetime_seconds"),
        max_bidstream_lifetime_seconds=_header_int(body, "max_bidstream_lifetime_seconds"),
        allow_clock_skew_seconds=DEFAULT_ALLOW_CLOCK_SKEW_SECONDS if skew is None else skew,
        site_data=_parse_site_data(body.get("site_data")),
    )
