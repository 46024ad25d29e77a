"""The v2 request/response envelope, both sides (sdk.md §5, operator.md §2).

Request (client -> operator), encrypted with the 32-byte client secret, no AAD::

    0x01 || iv(12) || GCM(ts_ms int64 BE || nonce(8) || UTF-8 JSON, absent for key calls) || tag(16)

Response (operator -> client, HTTP 200 only): ``iv(12) || GCM(ts_ms || echoed nonce || JSON) ||
tag(16)``, no version byte. Both travel as standard base64 text, or as raw bytes when the request
was ``application/octet-stream`` (sdk.md §5.4).

Server-side parsing fails closed in the order of operator.md §2.1-§2.2 and returns an
:class:`EnvelopeRejection` whose message is the upstream text, byte for byte. The client-side
opener raises :class:`~uid2.core.errors.EnvelopeError` like the SDK raises ``ValueError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from uid2.core.aead import gcm_open, gcm_seal
from uid2.core.encoding import b64decode_strict, b64encode, i64
from uid2.core.enums import IdentityScope
from uid2.core.errors import EnvelopeError

ENVELOPE_VERSION = 1
NONCE_SIZE = 8
_TIMESTAMP_SIZE = 8
_HEADER_SIZE = _TIMESTAMP_SIZE + NONCE_SIZE
# version + GCM iv + tag + timestamp + nonce (operator.md §2.1)
MIN_ENVELOPE_SIZE = 1 + 12 + 16 + _TIMESTAMP_SIZE + NONCE_SIZE
# Upstream rejects when |whole minutes between ts and now| > 1, minutes truncated: anything
# under 120 s either way passes, 120 s or more fails (operator.md §2.1).
MAX_CLOCK_SKEW_MS = 120_000

_DOCS_PATH = "/docs/getting-started/gs-encryption-decryption"
_DOCS_HOSTS = {IdentityScope.UID2: "https://unifiedid.com", IdentityScope.EUID: "https://euid.eu"}
_HINT = " See {docs} for details on the request envelope format."


class EnvelopeStatus(Enum):
    """Why an envelope was refused. Operator-side values are the upstream messages (§2.2)."""

    BODY_MISSING = "Invalid body: Body is missing."
    NOT_BASE64 = "Invalid body: Body is not valid base64."
    TOO_SHORT = "Invalid body: Body too short. Check encryption method."
    BAD_VERSION = (
        "Invalid body: Invalid request envelope format version: received {version}, must be 1."
    )
    BAD_SECRET = "Invalid body: Check encryption key (ClientSecret)."
    UNENCRYPTED_JSON = (
        "Invalid body: The request body is unencrypted JSON. It must be an encrypted request"
        " envelope. See {docs}#encryption-and-decryption-code-examples for encryption and"
        " decryption code examples."
    )
    BAD_TIMESTAMP = "Invalid timestamp: Request too old or client time drift."
    INVALID_PAYLOAD = "Invalid payload in body: Data is not valid json string."
    # Client side (reading a response); "nonce mismatch" is the SDK's own text (sdk.md §5.3).
    RESPONSE_NOT_BASE64 = "response body is not valid base64"
    RESPONSE_UNREADABLE = "response does not decrypt with the client secret"
    NONCE_MISMATCH = "nonce mismatch"

    def message(self, scope: IdentityScope = IdentityScope.UID2, version: int = 0) -> str:
        """The text sent to clients; the docs host follows the deployment's scope."""
        docs = _DOCS_HOSTS[scope] + _DOCS_PATH
        text = self.value.format(docs=docs, version=version)
        return text + _HINT.format(docs=docs) if self in _HINTED else text


_HINTED = frozenset(
    {
        EnvelopeStatus.NOT_BASE64,
        EnvelopeStatus.TOO_SHORT,
        EnvelopeStatus.BAD_VERSION,
        EnvelopeStatus.BAD_SECRET,
    }
)


@dataclass(frozen=True, slots=True)
class EnvelopeRejection:
    """A refused request; ``received_version`` only matters for ``BAD_VERSION``."""

    status: EnvelopeStatus
    received_version: int = 0

    def message(self, scope: IdentityScope = IdentityScope.UID2) -> str:
        return self.status.message(scope, self.received_version)

    def to_error(self, scope: IdentityScope = IdentityScope.UID2) -> EnvelopeError[EnvelopeStatus]:
        return EnvelopeError(self.status, self.message(scope))


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    timestamp_ms: int
    nonce: bytes
    payload: bytes | None  # None when the plaintext is exactly ts || nonce (key endpoints)
    was_binary: bool  # answer with raw bytes only when True (operator.md §2.3)


# ---------------------------------------------------------------------------- client side


def seal_request(
    secret: bytes, payload: bytes | None, *, now_ms: int, nonce: bytes, iv: bytes
) -> bytes:
    """The raw request envelope. An empty payload is omitted, as the SDK's ``if data:`` does."""
    _require_nonce(nonce)
    plaintext = now_ms.to_bytes(_TIMESTAMP_SIZE, "big", signed=True) + nonce + (payload or b"")
    return bytes((ENVELOPE_VERSION,)) + gcm_seal(secret, iv, plaintext)


def seal_request_text(
    secret: bytes, payload: bytes | None, *, now_ms: int, nonce: bytes, iv: bytes
) -> str:
    """The request envelope as the base64 text body most endpoints take."""
    return b64encode(seal_request(secret, payload, now_ms=now_ms, nonce=nonce, iv=iv))


def open_response(secret: bytes, body: bytes | str, *, nonce: bytes, binary: bool) -> bytes:
    """The JSON of a 200 response; raises :class:`EnvelopeError` if it is not ours."""
    blob = _as_bytes(body) if binary else b64decode_strict(body)
    if blob is None:
        raise EnvelopeError(EnvelopeStatus.RESPONSE_NOT_BASE64)
    plaintext = gcm_open(secret, blob)
    if plaintext is None or len(plaintext) < _HEADER_SIZE:
        raise EnvelopeError(EnvelopeStatus.RESPONSE_UNREADABLE)
    if plaintext[_TIMESTAMP_SIZE:_HEADER_SIZE] != nonce:
        raise EnvelopeError(EnvelopeStatus.NONCE_MISMATCH)
    return plaintext[_HEADER_SIZE:]


# ---------------------------------------------------------------------------- server side


def open_request(
    secret: bytes,
    body: bytes,
    *,
    binary: bool,
    now_ms: int,
    max_skew_ms: int = MAX_CLOCK_SKEW_MS,
) -> OpenedRequest | EnvelopeRejection:
    """Authenticate and unpack a request body (operator.md §2.1).

    ``binary`` is True when the Content-Type was ``application/octet-stream``.
    """
    if not body:
        return EnvelopeRejection(EnvelopeStatus.BODY_MISSING)
    if binary:
        return _open_binary(secret, body, now_ms, max_skew_ms)
    return _open_text(secret, body, now_ms, max_skew_ms)


def _open_text(
    secret: bytes, body: bytes, now_ms: int, skew: int
) -> OpenedRequest | EnvelopeRejection:
    raw = b64decode_strict(body)
    if raw is None:
        # Not base64 at all: a plain JSON body gets the friendlier message (§2.2).
        status = (
            EnvelopeStatus.UNENCRYPTED_JSON if _is_json_object(body) else EnvelopeStatus.NOT_BASE64
        )
        return EnvelopeRejection(status)
    return _open_envelope(secret, raw, now_ms, skew, was_binary=False)


def _open_binary(
    secret: bytes, body: bytes, now_ms: int, skew: int
) -> OpenedRequest | EnvelopeRejection:
    # Octet-stream bodies that fail are retried as base64; a success there is answered in
    # base64, and when both fail the base64 attempt's error wins (operator.md §2.1).
    result = _open_envelope(secret, body, now_ms, skew, was_binary=True)
    if isinstance(result, OpenedRequest):
        return result
    decoded = b64decode_strict(body)
    if decoded is None:
        return result
    return _open_envelope(secret, decoded, now_ms, skew, was_binary=False)


def _open_envelope(
    secret: bytes, raw: bytes, now_ms: int, skew: int, *, was_binary: bool
) -> OpenedRequest | EnvelopeRejection:
    # Order: length, version (both after the unencrypted-JSON check), authenticate, timestamp.
    if len(raw) < MIN_ENVELOPE_SIZE or raw[0] != ENVELOPE_VERSION:
        if _is_json_object(raw):
            return EnvelopeRejection(EnvelopeStatus.UNENCRYPTED_JSON)
        if len(raw) < MIN_ENVELOPE_SIZE:
            return EnvelopeRejection(EnvelopeStatus.TOO_SHORT)
        return EnvelopeRejection(EnvelopeStatus.BAD_VERSION, raw[0])
    plaintext = gcm_open(secret, raw[1:])
    if plaintext is None:
        return EnvelopeRejection(EnvelopeStatus.BAD_SECRET)
    timestamp_ms = i64(plaintext, 0)
    if abs(now_ms - timestamp_ms) >= skew:
        return EnvelopeRejection(EnvelopeStatus.BAD_TIMESTAMP)
    nonce = plaintext[_TIMESTAMP_SIZE:_HEADER_SIZE]
    return OpenedRequest(timestamp_ms, nonce, plaintext[_HEADER_SIZE:] or None, was_binary)


def parse_json_payload(payload: bytes) -> dict[str, Any] | EnvelopeRejection:
    """The request JSON object; anything else is ``INVALID_PAYLOAD`` (operator.md §2.2).

    Surrounding whitespace is fine (SDK examples send ``json.dumps(...) + "\\n"``). Bytes that
    are not UTF-8 are replaced, as Java's ``new String(bytes, UTF_8)`` does, before parsing.
    """
    document = _loads_or_none(payload)
    if not isinstance(document, dict):
        return EnvelopeRejection(EnvelopeStatus.INVALID_PAYLOAD)
    return document


def seal_response(
    secret: bytes, json_bytes: bytes, *, now_ms: int, nonce: bytes, iv: bytes, binary: bool
) -> bytes:
    """The HTTP body of a 200: raw bytes if ``binary``, else base64 text (ASCII bytes)."""
    _require_nonce(nonce)
    plaintext = now_ms.to_bytes(_TIMESTAMP_SIZE, "big", signed=True) + nonce + json_bytes
    blob = gcm_seal(secret, iv, plaintext)
    return blob if binary else b64encode(blob).encode("ascii")


# ---------------------------------------------------------------------------- helpers


def _require_nonce(nonce: bytes) -> None:
    if len(nonce) != NONCE_SIZE:
        raise ValueError("envelope nonce must be 8 bytes")


def _as_bytes(body: bytes | str) -> bytes | None:
    if isinstance(body, bytes):
        return body
    try:
        return body.encode("latin-1")  # a binary body read as text maps byte-for-char
    except UnicodeEncodeError:
        return None


def _loads_or_none(data: bytes) -> object:
    try:
        return json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None


def _is_json_object(data: bytes) -> bool:
    return isinstance(_loads_or_none(data), dict)
