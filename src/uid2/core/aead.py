"""AES primitives with the byte layouts UID2 uses everywhere.

GCM blobs are ``nonce(12) || ciphertext || tag(16)`` (sdk.md §2). Building an ``AESGCM`` object
costs more than a short decrypt, so one object per long-lived key is cached (DESIGN.md §4).
Keys used once (a refresh answer's key, a client-side generation's shared secret) pass
``cache=False``: they would only fill the cache, and each time it fills it is emptied of the
keys it exists for. Openers return ``None`` on any failure: callers turn that into their own
status.
"""

from __future__ import annotations

import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16
CBC_IV_SIZE = 16
_AES_KEY_SIZES = (16, 24, 32)
_CACHE_LIMIT = 4096
_gcm_cache: dict[bytes, AESGCM] = {}
_thread_state = threading.local()


def cipher_for(key: bytes) -> AESGCM:
    """The cached AES-GCM object for ``key``; ValueError for a key of the wrong size."""
    cipher = _gcm_cache.get(key)
    if cipher is None:
        cipher = AESGCM(key)
        if len(_gcm_cache) >= _CACHE_LIMIT:
            _gcm_cache.clear()  # keys rotate rarely; a full reset keeps the bound simple
        _gcm_cache[key] = cipher
    return cipher


def gcm_seal(
    key: bytes, nonce: bytes, plaintext: bytes, aad: bytes | None = None, *, cache: bool = True
) -> bytes:
    """Encrypt to ``nonce || ciphertext || tag``."""
    if len(nonce) != GCM_NONCE_SIZE:
        raise ValueError("GCM nonce must be 12 bytes")
    cipher = cipher_for(key) if cache else AESGCM(key)  # inline: this is the hot path
    return nonce + cipher.encrypt(nonce, plaintext, aad)


def gcm_open(
    key: bytes, blob: bytes, aad: bytes | None = None, *, cache: bool = True
) -> bytes | None:
    """Decrypt ``nonce || ciphertext || tag``; None if it does not authenticate."""
    if len(blob) < GCM_NONCE_SIZE + GCM_TAG_SIZE or len(key) not in _AES_KEY_SIZES:
        return None
    try:
        cipher = cipher_for(key) if cache else AESGCM(key)
        return cipher.decrypt(blob[:GCM_NONCE_SIZE], blob[GCM_NONCE_SIZE:], aad)
    except InvalidTag:
        return None


def cbc_seal(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """AES-CBC with PKCS#7 padding, returned as ``iv || ciphertext``."""
    if len(iv) != CBC_IV_SIZE:
        raise ValueError("CBC IV must be 16 bytes")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def _cbc_decryptor(key: bytes) -> CipherContext:
    # One long-lived CBC context per key and thread (building one costs ~5 us per call). It
    # is never finalised, so it carries the last ciphertext block of the previous call as its
    # chaining value; cbc_open feeds it ``iv || ciphertext`` and drops the first output
    # block, which is exactly the block that chaining value spoils.
    cache: dict[bytes, CipherContext] = _thread_state.__dict__.setdefault("cbc", {})
    decryptor = cache.get(key)
    if decryptor is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        mode = modes.CBC(bytes(CBC_IV_SIZE))
        decryptor = cache[key] = Cipher(algorithms.AES(key), mode).decryptor()
    return decryptor


def cbc_open(key: bytes, blob: bytes) -> bytes | None:
    """Decrypt ``iv || ciphertext`` (PKCS#7 padding checked); None on bad length, key or pad."""
    body = len(blob) - CBC_IV_SIZE
    if body <= 0 or body % 16 or len(key) not in _AES_KEY_SIZES:
        return None
    padded = _cbc_decryptor(key).update(blob)[CBC_IV_SIZE:]
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
        return None
    return padded[:-pad]


def ctr_transform(key: bytes, counter_block: bytes, data: bytes) -> bytes:
    """AES-CTR (encrypt and decrypt are the same operation)."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter_block)).encryptor()
    return encryptor.update(data) + encryptor.finalize()
