"""Client-side token generation (CSTG) cryptography (operator.md §7, §1.8; system.md §4.3).

The browser makes an ephemeral P-256 key, agrees a secret with the publisher's server key and
sends::

    {"payload": b64(ct || tag), "iv": b64(iv12), "public_key": b64(client SPKI DER),
     "timestamp": <ms>, "subscription_id": "<10 chars>", ["app_name": "<app>"]}

The AES-256-GCM key is the raw ECDH X coordinate, with no KDF. The AAD is the compact JSON
array ``[timestamp]`` or ``[timestamp,"app_name"]``. The 200 answer is
``b64(iv || GCM(shared secret, status JSON) || tag)`` with no AAD, timestamp or nonce.

Keys travel as strings: a 9-char prefix (``UID2-X-L-`` public, ``UID2-Y-L-`` private; ``EUID-``
for EUID; L/T/I/P for the environment) then base64 of SPKI or PKCS#8 DER.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from uid2.core.aead import GCM_NONCE_SIZE, gcm_open, gcm_seal
from uid2.core.encoding import b64decode_strict, b64encode
from uid2.core.enums import IdentityScope
from uid2.core.errors import CstgError

KEY_PREFIX_LENGTH = 9
SUBSCRIPTION_ID_LENGTH = 10
SUBSCRIPTION_ID_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_CURVE = ec.SECP256R1()
# Group order of P-256, to map random bytes onto a valid private scalar.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_MIN_RANDOM_FOR_KEY = 40  # 64 spare bits make the mod-n bias negligible
_MIN_RANDOM_FOR_SUBSCRIPTION = 16


class CstgStatus(Enum):
    # Server side: operator.md §1.8 steps 6-10, exact upstream messages (all 400 client_error).
    REQUIRED_PARAMETERS = "required parameters: payload, iv, public_key"
    BAD_PUBLIC_KEY = "bad public key"
    BAD_IV = "bad iv"
    DECRYPTION_FAILED = "payload decryption failed"
    INVALID_JSON = "encrypted payload contains invalid json"
    # Client side, reading the answer.
    RESPONSE_NOT_BASE64 = "client-generate response is not valid base64"
    RESPONSE_UNREADABLE = "client-generate response does not decrypt with the shared secret"


class KeyEnvironment(Enum):
    """The environment letter of a key prefix (operator.md §1.2, §7.1)."""

    LOCAL = "L"
    TEST = "T"
    INTEG = "I"
    PROD = "P"


class KeyKind(Enum):
    PUBLIC = "X"
    PRIVATE = "Y"


# ---------------------------------------------------------------------------- keys


def key_prefix(scope: IdentityScope, kind: KeyKind, env: KeyEnvironment) -> str:
    """For example ``UID2-X-L-``; always 9 characters."""
    return f"{scope.name}-{kind.value}-{env.value}-"


@dataclass(frozen=True, slots=True)
class CstgKeyPair:
    public_key: str  # what the publisher puts in its page
    private_key: str = field(repr=False)  # what the operator keeps


def private_key_from_random(random_bytes: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from at least 40 random bytes (the caller owns the randomness)."""
    if len(random_bytes) < _MIN_RANDOM_FOR_KEY:
        raise ValueError(f"need at least {_MIN_RANDOM_FOR_KEY} random bytes")
    scalar = int.from_bytes(random_bytes, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, _CURVE)


def keypair_from_random(
    random_bytes: bytes,
    *,
    scope: IdentityScope = IdentityScope.UID2,
    env: KeyEnvironment = KeyEnvironment.LOCAL,
) -> CstgKeyPair:
    private_key = private_key_from_random(random_bytes)
    return CstgKeyPair(
        public_key=public_key_string(private_key.public_key(), scope=scope, env=env),
        private_key=private_key_string(private_key, scope=scope, env=env),
    )


def spki_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_string(
    public_key: ec.EllipticCurvePublicKey, *, scope: IdentityScope, env: KeyEnvironment
) -> str:
    return key_prefix(scope, KeyKind.PUBLIC, env) + b64encode(spki_der(public_key))


def private_key_string(
    private_key: ec.EllipticCurvePrivateKey, *, scope: IdentityScope, env: KeyEnvironment
) -> str:
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_prefix(scope, KeyKind.PRIVATE, env) + b64encode(der)


def parse_public_key(spki_b64: str | bytes) -> ec.EllipticCurvePublicKey | None:
    """A P-256 public key from base64 SPKI DER (no prefix), or None."""
    der = b64decode_strict(spki_b64)
    if not der:
        return None
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _CURVE.name:
        return None
    return key


def parse_public_key_string(text: str) -> ec.EllipticCurvePublicKey:
    """A prefixed public key string; the JS SDK likewise drops the first 9 characters."""
    key = parse_public_key(text[KEY_PREFIX_LENGTH:])
    if key is None:
        raise ValueError("not a prefixed base64 P-256 SPKI public key")
    return key


def parse_private_key_string(text: str) -> ec.EllipticCurvePrivateKey:
    """A prefixed PKCS#8 private key string; parse once and keep the object (it is slow)."""
    der = b64decode_strict(text[KEY_PREFIX_LENGTH:])
    try:
        key = serialization.load_der_private_key(der or b"", password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a prefixed base64 PKCS#8 private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != _CURVE.name:
        raise ValueError("not a P-256 private key")
    return key


def shared_secret(
    private_key: ec.EllipticCurvePrivateKey, peer_public_key: ec.EllipticCurvePublicKey
) -> bytes:
    """The raw 32-byte ECDH X coordinate, used directly as the AES-256 key (§7.2)."""
    return private_key.exchange(ec.ECDH(), peer_public_key)


def cstg_aad(timestamp: int, app_name: str | None = None) -> bytes:
    """``[ts]`` or ``[ts,"app"]`` as the browser's ``JSON.stringify`` writes it (no spaces and
    no ASCII escaping of other characters, like JavaScript and the Java server)."""
    items: list[int | str] = [timestamp] if app_name is None else [timestamp, app_name]
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def subscription_id_from_random(random_bytes: bytes) -> str:
    """A 10-char Base58 subscription id from at least 16 random bytes (§7.1).

    The bytes are read as one integer and reduced mod 58**10; with 128 bits or more the bias
    is below 2**-69.
    """
    if len(random_bytes) < _MIN_RANDOM_FOR_SUBSCRIPTION:
        raise ValueError(f"need at least {_MIN_RANDOM_FOR_SUBSCRIPTION} random bytes")
    base = len(SUBSCRIPTION_ID_ALPHABET)
    value = int.from_bytes(random_bytes, "big") % base**SUBSCRIPTION_ID_LENGTH
    chars = []
    for _ in range(SUBSCRIPTION_ID_LENGTH):
        value, digit = divmod(value, base)
        chars.append(SUBSCRIPTION_ID_ALPHABET[digit])
    return "".join(reversed(chars))


# ---------------------------------------------------------------------------- client side


def build_cstg_request(
    server_public_key_str: str,
    identity_json: bytes,
    *,
    now_ms: int,
    client_private_key: ec.EllipticCurvePrivateKey,
    iv: bytes,
    subscription_id: str,
    app_name: str | None = None,
) -> dict[str, str | int]:
    """The JSON body a browser or mobile SDK posts to ``/v2/token/client-generate``.

    Open the answer with ``shared_secret(client_private_key, server key)``.
    """
    secret = shared_secret(client_private_key, parse_public_key_string(server_public_key_str))
    sealed = gcm_seal(secret, iv, identity_json, cstg_aad(now_ms, app_name), cache=False)
    request: dict[str, str | int] = {
        "payload": b64encode(sealed[GCM_NONCE_SIZE:]),  # ct || tag; the iv goes on its own
        "iv": b64encode(iv),
        "public_key": b64encode(spki_der(client_private_key.public_key())),
        "timestamp": now_ms,
        "subscription_id": subscription_id,
    }
    if app_name is not None:
        request["app_name"] = app_name
    return request


def open_cstg_response(shared_secret: bytes, body: str | bytes) -> bytes:
    """The status JSON of a 200 answer; raises :class:`CstgError` if it is not readable."""
    blob = b64decode_strict(body)
    if blob is None:
        raise CstgError(CstgStatus.RESPONSE_NOT_BASE64)
    plaintext = gcm_open(shared_secret, blob, cache=False)
    if plaintext is None:
        raise CstgError(CstgStatus.RESPONSE_UNREADABLE)
    return plaintext


# ---------------------------------------------------------------------------- server side


@dataclass(frozen=True, slots=True)
class CstgDecrypted:
    identity: dict[str, Any]  # {"email_hash": ...} or {"phone_hash": ...}, not yet validated
    identity_json: bytes = field(repr=False)
    shared_secret: bytes = field(repr=False)  # seals the answer


def decrypt_cstg_request(
    server_private_key: ec.EllipticCurvePrivateKey, request: Mapping[str, object]
) -> CstgDecrypted | CstgStatus:
    """Steps 6-10 of operator.md §1.8, in that order, on the parsed request JSON object.

    Steps 1-5 (JSON body, subscription id, disabled keypair, origin / app name) come first and
    belong to the operator. The timestamp is never checked for freshness, only bound as AAD.
    """
    required = _required_strings(request)
    if required is None:
        return CstgStatus.REQUIRED_PARAMETERS
    payload, iv_text, key_text = required
    client_key = parse_public_key(key_text)
    if client_key is None:
        return CstgStatus.BAD_PUBLIC_KEY
    iv = b64decode_strict(iv_text)
    if iv is None or len(iv) != GCM_NONCE_SIZE:
        return CstgStatus.BAD_IV
    secret = shared_secret(server_private_key, client_key)
    plaintext = _decrypt_payload(secret, iv, payload, request)
    if plaintext is None:
        return CstgStatus.DECRYPTION_FAILED
    return _parse_identity(plaintext, secret)


def _required_strings(request: Mapping[str, object]) -> tuple[str, str, str] | None:
    # Absent, null, empty or non-string all count as missing.
    values = [request.get(name) for name in ("payload", "iv", "public_key")]
    strings = [v for v in values if isinstance(v, str) and v]
    if len(strings) != len(values):
        return None
    return strings[0], strings[1], strings[2]


def _decrypt_payload(
    secret: bytes, iv: bytes, payload: str, request: Mapping[str, object]
) -> bytes | None:
    ciphertext = b64decode_strict(payload)
    timestamp = _timestamp(request.get("timestamp"))
    app_name = request.get("app_name")
    if ciphertext is None or timestamp is None or not isinstance(app_name, str | None):
        return None  # the AAD cannot be rebuilt, so nothing could authenticate
    return gcm_open(secret, iv + ciphertext, cstg_aad(timestamp, app_name), cache=False)


def _timestamp(value: object) -> int | None:
    # A JSON number; an integral float prints the same in JavaScript, so it is accepted.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _parse_identity(plaintext: bytes, secret: bytes) -> CstgDecrypted | CstgStatus:
    try:
        identity = json.loads(plaintext.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return CstgStatus.INVALID_JSON
    if not isinstance(identity, dict):
        return CstgStatus.INVALID_JSON
    return CstgDecrypted(identity, plaintext, secret)


def seal_cstg_response(shared_secret: bytes, json_bytes: bytes, *, iv: bytes) -> str:
    """``b64(iv || GCM(json) || tag)``, no AAD (operator.md §7.2 step 6)."""
    return b64encode(gcm_seal(shared_secret, iv, json_bytes, cache=False))
