"""Secrets at rest: AES-256-GCM under a key-encryption key (KEK).

A sealed value is ``VERSION(1) || nonce(12) || ciphertext || tag(16)``. The AAD is the value's
*context* (table, column and row id), so a ciphertext copied onto another row does not open.
The KEK never lives in the database: it comes from ``UID2_KEK`` or a 0600 key file, so a copy
of the database alone yields no usable secret. A sealed check value in ``store_meta`` tells a
wrong KEK apart from a corrupt row.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from uid2.core.aead import gcm_open, gcm_seal
from uid2.core.encoding import b64decode_strict, b64encode
from uid2.store.errors import StoreError, StoreErrorCode

KEK_SIZE = 32
_VERSION = b"\x01"
_NONCE_SIZE = 12
KEK_CHECK_CONTEXT = "store_meta.kek_check"
_KEK_CHECK_PLAINTEXT = b"uid2 control plane"


@dataclass(frozen=True, slots=True)
class SecretBox:
    """Seals and opens column values under one KEK."""

    kek: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.kek) != KEK_SIZE:
            raise StoreError(StoreErrorCode.KEK_INVALID, "the KEK must be 32 bytes of base64")

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_SIZE)
        return _VERSION + gcm_seal(self.kek, nonce, plaintext, context.encode("utf-8"))

    def open(self, sealed: bytes, context: str) -> bytes:
        opened = None
        if sealed[:1] == _VERSION:
            opened = gcm_open(self.kek, bytes(sealed[1:]), context.encode("utf-8"))
        if opened is None:
            raise StoreError(StoreErrorCode.SECRET_UNREADABLE, f"cannot decrypt {context}")
        return opened

    def seal_text(self, plaintext: str, context: str) -> bytes:
        return self.seal(plaintext.encode("utf-8"), context)

    def open_text(self, sealed: bytes, context: str) -> str:
        return self.open(sealed, context).decode("utf-8")

    def check_value(self) -> str:
        return b64encode(self.seal(_KEK_CHECK_PLAINTEXT, KEK_CHECK_CONTEXT))

    def matches(self, check_value: str) -> bool:
        sealed = b64decode_strict(check_value)
        if sealed is None or sealed[:1] != _VERSION:
            return False
        opened = gcm_open(self.kek, sealed[1:], KEK_CHECK_CONTEXT.encode("utf-8"))
        return opened == _KEK_CHECK_PLAINTEXT


def generate_kek() -> bytes:
    return secrets.token_bytes(KEK_SIZE)


def encode_kek(kek: bytes) -> str:
    return b64encode(kek)


def decode_kek(text: str) -> bytes:
    kek = b64decode_strict(text.strip())
    if kek is None or len(kek) != KEK_SIZE:
        raise StoreError(StoreErrorCode.KEK_INVALID, "the KEK must be 32 bytes of base64")
    return kek


def read_kek_file(path: Path) -> bytes | None:
    """The KEK in ``path``, or None if there is no such file."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    return decode_kek(text)


def write_kek_file(path: Path, kek: bytes) -> None:
    """Write ``kek`` to ``path`` atomically, readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encode_kek(kek) + "\n")
    os.chmod(tmp, 0o600)  # O_CREAT's mode is masked by umask only for new files
    os.replace(tmp, path)
