"""Unit tests for uid2.core.envelope (sdk.md §5, §9.4; operator.md §2)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from uid2.core.aead import gcm_seal
from uid2.core.enums import IdentityScope
from uid2.core.envelope import (
    MAX_CLOCK_SKEW_MS,
    MIN_ENVELOPE_SIZE,
    EnvelopeRejection,
    EnvelopeStatus,
    OpenedRequest,
    open_request,
    open_response,
    parse_json_payload,
    seal_request,
    seal_request_text,
    seal_response,
)
from uid2.core.errors import CoreError, EnvelopeError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "envelopes.json").read_text("utf-8")
)
SECRET = base64.b64decode("ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=")
OTHER_SECRET = bytes(range(32))
NOW = 1704067200000
NONCE = b"\x01" * 8
IV = b"\x02" * 12
UID2_HINT = (
    " See https://unifiedid.com/docs/getting-started/gs-encryption-decryption"
    " for details on the request envelope format."
)
EUID_HINT = (
    " See https://euid.eu/docs/getting-started/gs-encryption-decryption"
    " for details on the request envelope format."
)


def _request_case(name: str) -> dict[str, Any]:
    return next(c for c in VECTORS["request_envelopes"] if c["name"] == name)


def _payload_bytes(case: dict[str, Any]) -> bytes | None:
    return None if case["payload"] is None else case["payload"].encode("utf-8")


def _open_text(body: bytes, now_ms: int = NOW, **kw: Any) -> OpenedRequest | EnvelopeRejection:
    return open_request(SECRET, body, binary=False, now_ms=now_ms, **kw)


def _rejection(result: OpenedRequest | EnvelopeRejection) -> EnvelopeRejection:
    assert isinstance(result, EnvelopeRejection), result
    return result


def _opened(result: OpenedRequest | EnvelopeRejection) -> OpenedRequest:
    assert isinstance(result, OpenedRequest), result
    return result


def _envelope(payload: bytes | None = b'{"a":1}', ts: int = NOW, secret: bytes = SECRET) -> bytes:
    return seal_request(secret, payload, now_ms=ts, nonce=NONCE, iv=IV)


# ---------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("case", VECTORS["request_envelopes"], ids=lambda c: c["name"])
def test_seal_request_reproduces_sdk_vector(case: dict[str, Any]) -> None:
    text = seal_request_text(
        base64.b64decode(case["secret_b64"]),
        _payload_bytes(case),
        now_ms=case["now_ms"],
        nonce=bytes.fromhex(case["nonce_hex"]),
        iv=bytes.fromhex(case["iv_hex"]),
    )
    assert text == case["envelope_b64"]


@pytest.mark.parametrize("case", VECTORS["request_envelopes"], ids=lambda c: c["name"])
@pytest.mark.parametrize("binary", [False, True])
def test_open_request_reads_sdk_vector(case: dict[str, Any], binary: bool) -> None:
    text = case["envelope_b64"].encode("ascii")
    body = base64.b64decode(text) if binary else text
    opened = _opened(
        open_request(
            base64.b64decode(case["secret_b64"]), body, binary=binary, now_ms=case["now_ms"] + 1
        )
    )
    assert opened.timestamp_ms == case["now_ms"]
    assert opened.nonce == bytes.fromhex(case["nonce_hex"])
    assert opened.payload == _payload_bytes(case)
    assert opened.was_binary is binary


@pytest.mark.parametrize("case", VECTORS["response_envelopes"], ids=lambda c: c["name"])
def test_response_vector_both_directions(case: dict[str, Any]) -> None:
    secret = base64.b64decode(case["secret_b64"])
    nonce = bytes.fromhex(case["nonce_hex"])
    body = seal_response(
        secret,
        case["json"].encode(),
        now_ms=case["now_ms"],
        nonce=nonce,
        iv=bytes.fromhex(case["iv_hex"]),
        binary=False,
    )
    assert body.decode("ascii") == case["body_b64"]
    assert (
        open_response(secret, case["body_b64"], nonce=nonce, binary=False) == case["json"].encode()
    )


def test_vector_payload_parses_as_object() -> None:
    payload = _payload_bytes(_request_case("generate_email_hash"))
    assert payload is not None
    assert parse_json_payload(payload) == {
        "email_hash": "lz3+Rj7IV4X1+Vr1ujkG7tstkxwk5pgkqJ6mXbpOgTs="
    }


# ---------------------------------------------------------------------------- client side


def test_seal_request_layout() -> None:
    raw = seal_request(SECRET, b"{}", now_ms=NOW, nonce=NONCE, iv=IV)
    assert raw[0] == 1
    assert raw[1:13] == IV
    assert len(raw) == MIN_ENVELOPE_SIZE + 2


def test_empty_payload_is_omitted_like_none() -> None:
    assert _envelope(b"") == _envelope(None)
    assert len(_envelope(None)) == MIN_ENVELOPE_SIZE


@pytest.mark.parametrize("nonce", [b"", b"\x00" * 7, b"\x00" * 9])
def test_seal_rejects_bad_nonce(nonce: bytes) -> None:
    with pytest.raises(ValueError):
        seal_request(SECRET, None, now_ms=NOW, nonce=nonce, iv=IV)
    with pytest.raises(ValueError):
        seal_response(SECRET, b"{}", now_ms=NOW, nonce=nonce, iv=IV, binary=True)


def test_seal_rejects_bad_iv() -> None:
    with pytest.raises(ValueError):
        seal_request(SECRET, None, now_ms=NOW, nonce=NONCE, iv=b"\x00" * 16)


@pytest.mark.parametrize("binary", [False, True])
def test_response_round_trip(binary: bool) -> None:
    body = seal_response(
        SECRET, b'{"status":"success"}', now_ms=NOW, nonce=NONCE, iv=IV, binary=binary
    )
    raw = body if binary else base64.b64decode(body)
    assert raw[:12] == IV  # no version byte in responses (operator.md §2.3)
    assert open_response(SECRET, body, nonce=NONCE, binary=binary) == b'{"status":"success"}'


def test_open_response_accepts_text_body() -> None:
    body = seal_response(SECRET, b"{}", now_ms=NOW, nonce=NONCE, iv=IV, binary=False)
    assert open_response(SECRET, body.decode(), nonce=NONCE, binary=False) == b"{}"


@pytest.mark.parametrize(
    ("secret", "body", "nonce", "status"),
    [
        (SECRET, b"%%%", NONCE, EnvelopeStatus.RESPONSE_NOT_BASE64),
        (OTHER_SECRET, None, NONCE, EnvelopeStatus.RESPONSE_UNREADABLE),
        (SECRET, b"", NONCE, EnvelopeStatus.RESPONSE_UNREADABLE),
        (SECRET, None, b"\x09" * 8, EnvelopeStatus.NONCE_MISMATCH),
    ],
)
def test_open_response_failures(
    secret: bytes, body: bytes | None, nonce: bytes, status: EnvelopeStatus
) -> None:
    if body is None:
        body = seal_response(SECRET, b"{}", now_ms=NOW, nonce=NONCE, iv=IV, binary=False)
    with pytest.raises(EnvelopeError) as info:
        open_response(secret, body, nonce=nonce, binary=False)
    assert info.value.status is status
    assert isinstance(info.value, CoreError)


def test_open_response_nonce_mismatch_text_matches_sdk() -> None:
    body = seal_response(SECRET, b"{}", now_ms=NOW, nonce=NONCE, iv=IV, binary=True)
    with pytest.raises(EnvelopeError, match="^nonce mismatch$"):
        open_response(SECRET, body, nonce=b"\x00" * 8, binary=True)


# ---------------------------------------------------------------------------- server side


def test_open_request_round_trip_and_none_payload() -> None:
    opened = _opened(_open_text(base64.b64encode(_envelope(None))))
    assert (opened.timestamp_ms, opened.nonce, opened.payload) == (NOW, NONCE, None)


def test_body_missing() -> None:
    rejection = _rejection(_open_text(b""))
    assert rejection.status is EnvelopeStatus.BODY_MISSING
    assert rejection.message() == "Invalid body: Body is missing."
    assert _rejection(open_request(SECRET, b"", binary=True, now_ms=NOW)).status is (
        EnvelopeStatus.BODY_MISSING
    )


@pytest.mark.parametrize(
    ("scope", "hint"), [(IdentityScope.UID2, UID2_HINT), (IdentityScope.EUID, EUID_HINT)]
)
def test_not_base64_message_has_hint_for_scope(scope: IdentityScope, hint: str) -> None:
    rejection = _rejection(_open_text(b"not base64!"))
    assert rejection.status is EnvelopeStatus.NOT_BASE64
    assert rejection.message(scope) == "Invalid body: Body is not valid base64." + hint


def test_too_short() -> None:
    body = base64.b64encode(_envelope(None)[: MIN_ENVELOPE_SIZE - 1])
    rejection = _rejection(_open_text(body))
    assert rejection.message() == (
        "Invalid body: Body too short. Check encryption method." + UID2_HINT
    )


@pytest.mark.parametrize("version", [0, 2, 255])
def test_bad_version_reports_unsigned_byte(version: int) -> None:
    raw = bytes([version]) + _envelope()[1:]
    rejection = _rejection(_open_text(base64.b64encode(raw)))
    assert rejection.status is EnvelopeStatus.BAD_VERSION
    assert rejection.message(IdentityScope.EUID) == (
        f"Invalid body: Invalid request envelope format version: received {version}, must be 1."
        + EUID_HINT
    )


def test_wrong_secret() -> None:
    body = base64.b64encode(_envelope(secret=OTHER_SECRET))
    rejection = _rejection(_open_text(body))
    assert rejection.message() == "Invalid body: Check encryption key (ClientSecret)." + UID2_HINT


UNENCRYPTED = (
    "Invalid body: The request body is unencrypted JSON. It must be an encrypted request envelope."
    " See https://unifiedid.com/docs/getting-started/gs-encryption-decryption"
    "#encryption-and-decryption-code-examples for encryption and decryption code examples."
)


@pytest.mark.parametrize(
    ("body", "binary"),
    [
        (b'{"email": "a@b.com"}', False),  # raw text, not base64
        (b'{"email": "a@b.com"}', True),  # octet-stream, too short
        (base64.b64encode(b"{}"), False),  # base64 of JSON, too short
        (base64.b64encode(b'{"email_hash": "' + b"x" * 60 + b'"}'), False),  # long: version check
        (b'  {"email_hash": "' + b"x" * 60 + b'"}\n', True),
    ],
)
def test_unencrypted_json_detected_first(body: bytes, binary: bool) -> None:
    rejection = _rejection(open_request(SECRET, body, binary=binary, now_ms=NOW))
    assert rejection.status is EnvelopeStatus.UNENCRYPTED_JSON
    assert rejection.message() == UNENCRYPTED
    assert rejection.message(IdentityScope.EUID) == UNENCRYPTED.replace(
        "https://unifiedid.com", "https://euid.eu"
    )


def test_json_array_is_not_unencrypted_json() -> None:
    assert _rejection(_open_text(b"[1, 2]")).status is EnvelopeStatus.NOT_BASE64


@pytest.mark.parametrize("delta", [0, 1, 59_999, 60_000, 119_999, -119_999, -60_000])
def test_timestamp_inside_window(delta: int) -> None:
    _opened(_open_text(base64.b64encode(_envelope()), now_ms=NOW + delta))


@pytest.mark.parametrize("delta", [120_000, -120_000, 3_600_000, -(10**12)])
def test_timestamp_outside_window(delta: int) -> None:
    rejection = _rejection(_open_text(base64.b64encode(_envelope()), now_ms=NOW + delta))
    assert rejection.message() == "Invalid timestamp: Request too old or client time drift."


def test_timestamp_window_is_a_parameter() -> None:
    body = base64.b64encode(_envelope())
    assert MAX_CLOCK_SKEW_MS == 120_000
    _rejection(_open_text(body, now_ms=NOW + 60_000, max_skew_ms=60_000))
    _opened(_open_text(body, now_ms=NOW + 59_999, max_skew_ms=60_000))


def test_binary_body_opens_as_binary() -> None:
    opened = _opened(open_request(SECRET, _envelope(), binary=True, now_ms=NOW))
    assert opened.was_binary is True
    assert opened.payload == b'{"a":1}'


def test_binary_falls_back_to_base64_and_answers_in_base64() -> None:
    opened = _opened(open_request(SECRET, base64.b64encode(_envelope()), binary=True, now_ms=NOW))
    assert opened.was_binary is False


def test_binary_fallback_reports_decoded_error_when_body_was_base64() -> None:
    body = base64.b64encode(_envelope(secret=OTHER_SECRET))
    rejection = _rejection(open_request(SECRET, body, binary=True, now_ms=NOW))
    assert rejection.status is EnvelopeStatus.BAD_SECRET


def test_binary_fallback_reports_binary_error_when_not_base64() -> None:
    raw = b"\x07" + _envelope()[1:]
    rejection = _rejection(open_request(SECRET, raw, binary=True, now_ms=NOW))
    assert (rejection.status, rejection.received_version) == (EnvelopeStatus.BAD_VERSION, 7)


def test_rejection_to_error() -> None:
    error = EnvelopeRejection(EnvelopeStatus.BAD_VERSION, 3).to_error(IdentityScope.EUID)
    assert error.status is EnvelopeStatus.BAD_VERSION
    assert str(error).startswith(
        "Invalid body: Invalid request envelope format version: received 3"
    )
    assert "euid.eu" in str(error)


@pytest.mark.parametrize(
    "payload",
    [b'{"a": 1}', b'{"a": 1}\n', b'  {"a": 1} \r\n\t', b'{"a": "\xff"}'],
)
def test_parse_json_payload_accepts_objects(payload: bytes) -> None:
    document = parse_json_payload(payload)
    assert isinstance(document, dict)
    assert "a" in document


@pytest.mark.parametrize("payload", [b"", b"   ", b"{", b"[1]", b'"x"', b"1", b"{}x", b"\xff\xfe"])
def test_parse_json_payload_rejects_non_objects(payload: bytes) -> None:
    rejection = parse_json_payload(payload)
    assert isinstance(rejection, EnvelopeRejection)
    assert rejection.message() == "Invalid payload in body: Data is not valid json string."


def test_whitespace_after_json_survives_the_envelope() -> None:
    opened = _opened(_open_text(base64.b64encode(_envelope(b'{"a": 1}\n'))))
    assert opened.payload is not None
    assert parse_json_payload(opened.payload) == {"a": 1}


def test_gcm_blob_with_version_byte_but_no_timestamp_room() -> None:
    # 1 + iv + tag + 15 bytes of plaintext: one byte short of ts || nonce.
    raw = b"\x01" + gcm_seal(SECRET, IV, b"\x00" * 15)
    assert _rejection(_open_text(base64.b64encode(raw))).status is EnvelopeStatus.TOO_SHORT
