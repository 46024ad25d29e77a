from __future__ import annotations

import os
import threading

from hypothesis import given
from hypothesis import strategies as st

from uid2.core import aead
from uid2.core.aead import cbc_open, cbc_seal, gcm_open, gcm_seal
from uid2.core.refresh import open_refresh_response, seal_refresh_response

KEYS = [os.urandom(n) for n in (16, 24, 32, 32)]


@given(
    messages=st.lists(
        st.tuples(
            st.sampled_from(range(len(KEYS))),
            st.binary(max_size=200),
            st.binary(min_size=16, max_size=16),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_cbc_open_round_trips_interleaved_calls(messages: list[tuple[int, bytes, bytes]]) -> None:
    # the cached decryptor carries state between calls; interleaving keys and lengths checks
    # that no call is spoiled by the one before it
    for key_index, plaintext, iv in messages:
        assert cbc_open(KEYS[key_index], cbc_seal(KEYS[key_index], iv, plaintext)) == plaintext


@given(blob=st.binary(max_size=100))
def test_cbc_open_never_raises(blob: bytes) -> None:
    cbc_open(KEYS[0], blob)


def test_cbc_open_rejects_bad_padding_wrong_key_and_bad_sizes() -> None:
    sealed = cbc_seal(KEYS[3], bytes(16), b"payload")
    assert cbc_open(KEYS[2], sealed) is None or cbc_open(KEYS[2], sealed) != b"payload"
    assert cbc_open(KEYS[3], sealed[:-1]) is None
    assert cbc_open(b"short", sealed) is None
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert cbc_open(KEYS[3], tampered) != b"payload"


def test_cbc_open_is_safe_across_threads() -> None:
    sealed = [
        (cbc_seal(KEYS[3], os.urandom(16), bytes([i]) * 40), bytes([i]) * 40) for i in range(50)
    ]
    failures: list[bytes] = []

    def work() -> None:
        for _ in range(200):
            for blob, expected in sealed:
                if cbc_open(KEYS[3], blob) != expected:
                    failures.append(blob)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_gcm_round_trip_and_tamper() -> None:
    sealed = gcm_seal(KEYS[3], bytes(12), b"hello", b"aad")
    assert gcm_open(KEYS[3], sealed, b"aad") == b"hello"
    assert gcm_open(KEYS[3], sealed, b"other") is None
    assert gcm_open(KEYS[3], sealed[:-1]) is None
    assert gcm_open(b"bad key", sealed) is None


def test_one_time_keys_stay_out_of_the_cipher_cache() -> None:
    """Refresh answers and client-side generation seal under a fresh key each time: caching
    those filled the cache and emptied it of the long-lived keys every 4,096 requests."""
    before = set(aead._gcm_cache)
    for _ in range(50):
        key = os.urandom(32)
        sealed = seal_refresh_response(key, b'{"status":"success"}', iv=os.urandom(12))
        assert open_refresh_response(key, sealed) == b'{"status":"success"}'
    assert set(aead._gcm_cache) == before
    long_lived = os.urandom(32)
    assert gcm_open(long_lived, gcm_seal(long_lived, os.urandom(12), b"x")) == b"x"
    assert long_lived in aead._gcm_cache
