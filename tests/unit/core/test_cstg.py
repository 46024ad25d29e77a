"""Unit tests for uid2.core.cstg (operator.md §1.8, §7; system.md §4.3)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from uid2.core.aead import gcm_seal
from uid2.core.cstg import (
    SUBSCRIPTION_ID_ALPHABET,
    CstgDecrypted,
    CstgStatus,
    KeyEnvironment,
    KeyKind,
    build_cstg_request,
    cstg_aad,
    decrypt_cstg_request,
    key_prefix,
    keypair_from_random,
    open_cstg_response,
    parse_private_key_string,
    parse_public_key,
    parse_public_key_string,
    private_key_from_random,
    seal_cstg_response,
    shared_secret,
    spki_der,
    subscription_id_from_random,
)
from uid2.core.enums import IdentityScope
from uid2.core.errors import CstgError

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "envelopes.json").read_text("utf-8")
)["cstg"]
NOW = 1704067200000
SERVER = keypair_from_random(b"\x08" * 40)
SERVER_PRIVATE = parse_private_key_string(SERVER.private_key)
CLIENT = private_key_from_random(b"\x09" * 40)
IDENTITY = b'{"email_hash":"lz3+Rj7IV4X1+Vr1ujkG7tstkxwk5pgkqJ6mXbpOgTs="}'
IV = b"\x0a" * 12


def _request(app_name: str | None = None, identity: bytes = IDENTITY) -> dict[str, Any]:
    return dict(
        build_cstg_request(
            SERVER.public_key,
            identity,
            now_ms=NOW,
            client_private_key=CLIENT,
            iv=IV,
            subscription_id="abcdEFGH12",
            app_name=app_name,
        )
    )


def _decrypted(request: dict[str, Any]) -> CstgDecrypted:
    result = decrypt_cstg_request(SERVER_PRIVATE, request)
    assert isinstance(result, CstgDecrypted), result
    return result


# ---------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["name"])
def test_vector_client_side(case: dict[str, Any]) -> None:
    server = keypair_from_random(bytes.fromhex(case["server_random_hex"]))
    assert (server.public_key, server.private_key) == (
        case["server_public_key"],
        case["server_private_key"],
    )
    client = private_key_from_random(bytes.fromhex(case["client_random_hex"]))
    request = build_cstg_request(
        case["server_public_key"],
        case["identity_json"].encode(),
        now_ms=case["now_ms"],
        client_private_key=client,
        iv=bytes.fromhex(case["iv_hex"]),
        subscription_id=case["subscription_id"],
        app_name=case["app_name"],
    )
    assert request == case["request"]
    secret = shared_secret(client, parse_public_key_string(case["server_public_key"]))
    assert secret.hex() == case["shared_secret_hex"]
    assert (
        open_cstg_response(secret, case["response"]["body_b64"])
        == case["response"]["json"].encode()
    )


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["name"])
def test_vector_server_side(case: dict[str, Any]) -> None:
    server_key = parse_private_key_string(case["server_private_key"])
    result = decrypt_cstg_request(server_key, case["request"])
    assert isinstance(result, CstgDecrypted)
    assert result.identity_json == case["identity_json"].encode()
    assert result.identity == json.loads(case["identity_json"])
    assert result.shared_secret.hex() == case["shared_secret_hex"]
    response = seal_cstg_response(
        result.shared_secret,
        case["response"]["json"].encode(),
        iv=bytes.fromhex(case["response"]["iv_hex"]),
    )
    assert response == case["response"]["body_b64"]


# ---------------------------------------------------------------------------- keys


def test_key_strings() -> None:
    assert SERVER.public_key.startswith("UID2-X-L-")
    assert SERVER.private_key.startswith("UID2-Y-L-")
    der = base64.b64decode(SERVER.public_key[9:])
    loaded = serialization.load_der_public_key(der)
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    assert loaded.curve.name == "secp256r1"
    assert spki_der(SERVER_PRIVATE.public_key()) == der
    assert "Y-L" not in repr(SERVER)


@pytest.mark.parametrize(
    ("scope", "kind", "env", "prefix"),
    [
        (IdentityScope.UID2, KeyKind.PUBLIC, KeyEnvironment.LOCAL, "UID2-X-L-"),
        (IdentityScope.EUID, KeyKind.PRIVATE, KeyEnvironment.PROD, "EUID-Y-P-"),
        (IdentityScope.UID2, KeyKind.PUBLIC, KeyEnvironment.INTEG, "UID2-X-I-"),
        (IdentityScope.EUID, KeyKind.PUBLIC, KeyEnvironment.TEST, "EUID-X-T-"),
    ],
)
def test_key_prefix(scope: IdentityScope, kind: KeyKind, env: KeyEnvironment, prefix: str) -> None:
    assert key_prefix(scope, kind, env) == prefix
    assert len(prefix) == 9


def test_euid_keypair() -> None:
    pair = keypair_from_random(b"\x01" * 40, scope=IdentityScope.EUID, env=KeyEnvironment.PROD)
    assert pair.public_key.startswith("EUID-X-P-") and pair.private_key.startswith("EUID-Y-P-")
    assert parse_private_key_string(pair.private_key).private_numbers().private_value > 0


def test_private_key_needs_enough_randomness() -> None:
    with pytest.raises(ValueError):
        private_key_from_random(b"\x01" * 39)


@pytest.mark.parametrize(
    "text",
    [
        "UID2-Y-L-",
        "UID2-Y-L-@@@",
        "UID2-Y-L-" + base64.b64encode(b"junk").decode(),
        SERVER.public_key,
    ],
)
def test_parse_private_key_string_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_private_key_string(text)


def test_parse_private_key_string_rejects_other_curve() -> None:
    other = ec.derive_private_key(5, ec.SECP384R1())
    der = other.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError):
        parse_private_key_string("UID2-Y-L-" + base64.b64encode(der).decode())


def test_parse_public_key_string_rejects() -> None:
    with pytest.raises(ValueError):
        parse_public_key_string("UID2-X-L-AAAA")
    with pytest.raises(ValueError):
        parse_public_key_string(SERVER.private_key)


def test_shared_secret_is_symmetric_raw_x() -> None:
    a = shared_secret(CLIENT, SERVER_PRIVATE.public_key())
    b = shared_secret(SERVER_PRIVATE, CLIENT.public_key())
    assert a == b and len(a) == 32


@pytest.mark.parametrize(
    ("timestamp", "app_name", "aad"),
    [
        (1700000000000, None, b"[1700000000000]"),
        (1795317645330, "com.example.app", b'[1795317645330,"com.example.app"]'),
        (1, 'caf\u00e9 "q"', '[1,"caf\u00e9 \\"q\\""]'.encode()),
        (1, "", b'[1,""]'),
    ],
)
def test_aad(timestamp: int, app_name: str | None, aad: bytes) -> None:
    assert cstg_aad(timestamp, app_name) == aad


def test_subscription_id() -> None:
    sid = subscription_id_from_random(bytes(range(16)))
    assert len(sid) == 10 and set(sid) <= set(SUBSCRIPTION_ID_ALPHABET)
    assert sid == subscription_id_from_random(bytes(range(16)))
    assert subscription_id_from_random(b"\x00" * 16) == "1111111111"
    assert len(SUBSCRIPTION_ID_ALPHABET) == 58
    assert not set("0OIl") & set(SUBSCRIPTION_ID_ALPHABET)
    with pytest.raises(ValueError):
        subscription_id_from_random(b"\x00" * 15)


def test_subscription_ids_spread() -> None:
    ids = {subscription_id_from_random(bytes([i]) * 16 + bytes([i * 7 % 256])) for i in range(256)}
    assert len(ids) == 256
    firsts = {s[0] for s in ids}
    assert len(firsts) > 30


# ---------------------------------------------------------------------------- client side


def test_request_shape() -> None:
    request = _request()
    assert list(request) == ["payload", "iv", "public_key", "timestamp", "subscription_id"]
    assert base64.b64decode(request["iv"]) == IV
    assert len(base64.b64decode(request["payload"])) == len(IDENTITY) + 16  # no iv inside
    assert base64.b64decode(request["public_key"]) == spki_der(CLIENT.public_key())
    assert request["timestamp"] == NOW
    assert _request("app")["app_name"] == "app"


def test_open_cstg_response_errors() -> None:
    secret = shared_secret(CLIENT, SERVER_PRIVATE.public_key())
    with pytest.raises(CstgError) as info:
        open_cstg_response(secret, "%%")
    assert info.value.status is CstgStatus.RESPONSE_NOT_BASE64
    body = seal_cstg_response(b"\x01" * 32, b"{}", iv=IV)
    with pytest.raises(CstgError) as info:
        open_cstg_response(secret, body)
    assert info.value.status is CstgStatus.RESPONSE_UNREADABLE


# ---------------------------------------------------------------------------- server side


@pytest.mark.parametrize("app_name", [None, "com.example.app", ""])
def test_round_trip(app_name: str | None) -> None:
    result = _decrypted(_request(app_name))
    assert result.identity == json.loads(IDENTITY)
    body = seal_cstg_response(result.shared_secret, b'{"status":"optout"}', iv=b"\x0b" * 12)
    secret = shared_secret(CLIENT, SERVER_PRIVATE.public_key())
    assert open_cstg_response(secret, body) == b'{"status":"optout"}'


def test_integral_float_timestamp_accepted() -> None:
    request = _request()
    request["timestamp"] = float(NOW)
    _decrypted(request)


REQUIRED = "required parameters: payload, iv, public_key"


@pytest.mark.parametrize("field", ["payload", "iv", "public_key"])
@pytest.mark.parametrize("value", ["<absent>", None, "", 5])
def test_required_parameters(field: str, value: object) -> None:
    request = _request()
    if value == "<absent>":
        del request[field]
    else:
        request[field] = value
    status = decrypt_cstg_request(SERVER_PRIVATE, request)
    assert status is CstgStatus.REQUIRED_PARAMETERS
    assert status.value == REQUIRED


def _other_curve_spki() -> str:
    key = ec.derive_private_key(7, ec.SECP384R1()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    "public_key",
    ["@@@@", "AAAA", SERVER.public_key, _other_curve_spki(), SERVER.private_key[9:]],
)
def test_bad_public_key(public_key: str) -> None:
    request = _request()
    request["public_key"] = public_key
    request["iv"] = "bad"  # the public key is checked before the iv
    status = decrypt_cstg_request(SERVER_PRIVATE, request)
    assert status is CstgStatus.BAD_PUBLIC_KEY and status.value == "bad public key"


@pytest.mark.parametrize(
    "iv", ["@@", base64.b64encode(b"\x00" * 11).decode(), base64.b64encode(b"\x00" * 16).decode()]
)
def test_bad_iv(iv: str) -> None:
    request = _request()
    request["iv"] = iv
    status = decrypt_cstg_request(SERVER_PRIVATE, request)
    assert status is CstgStatus.BAD_IV and status.value == "bad iv"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", NOW + 1),
        ("timestamp", "1704067200000"),
        ("timestamp", True),
        ("timestamp", 1.5),
        ("timestamp", "<absent>"),
        ("app_name", "com.example.app"),  # AAD gains an app name the client did not bind
        ("app_name", 5),
        ("payload", "@@@@"),
        ("payload", base64.b64encode(b"\x00" * 40).decode()),
        ("iv", base64.b64encode(b"\x01" * 12).decode()),
        ("public_key", base64.b64encode(spki_der(SERVER_PRIVATE.public_key())).decode()),
    ],
)
def test_decryption_failed(field: str, value: object) -> None:
    request = _request()
    if value == "<absent>":
        del request[field]
    else:
        request[field] = value
    status = decrypt_cstg_request(SERVER_PRIVATE, request)
    assert status is CstgStatus.DECRYPTION_FAILED and status.value == "payload decryption failed"


def test_app_name_removed_fails() -> None:
    request = _request("com.example.app")
    del request["app_name"]
    assert decrypt_cstg_request(SERVER_PRIVATE, request) is CstgStatus.DECRYPTION_FAILED


def test_null_app_name_means_absent() -> None:
    request = _request()
    request["app_name"] = None
    _decrypted(request)


@pytest.mark.parametrize("plaintext", [b"not json", b"[1]", b'"x"', b"", b"\xff"])
def test_invalid_json(plaintext: bytes) -> None:
    request = _request()
    secret = shared_secret(CLIENT, SERVER_PRIVATE.public_key())
    sealed = gcm_seal(secret, IV, plaintext, cstg_aad(NOW))
    request["payload"] = base64.b64encode(sealed[12:]).decode()
    status = decrypt_cstg_request(SERVER_PRIVATE, request)
    assert status is CstgStatus.INVALID_JSON
    assert status.value == "encrypted payload contains invalid json"


def test_identity_not_validated_here() -> None:
    # Steps 11-13 (which hash field, its format) belong to the operator.
    result = _decrypted(_request(identity=b'{"email":"a@b.com","x":1}'))
    assert result.identity == {"email": "a@b.com", "x": 1}


def test_public_key_parser_direct() -> None:
    assert parse_public_key(base64.b64encode(spki_der(CLIENT.public_key()))) is not None
    assert parse_public_key("") is None
