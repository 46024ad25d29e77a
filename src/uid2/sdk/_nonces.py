"""Fresh AES-GCM nonces for tokens the SDK encrypts, read from ``os.urandom`` in blocks.

A sharing encrypt needs 24 random bytes (a nonce for each of the token's two layers). One
``getrandom`` call per encrypt cost ~7 % of the whole operation, so nonces are drawn 256 at a
time and handed out once each: ``deque.popleft`` is atomic, so no two threads get the same one.
Nonces are public (they travel in the token); what matters is that none repeats under a key.
A forked child would inherit the parent's unused nonces and repeat them, so the pool is emptied
in every child process.
"""

from __future__ import annotations

import os
from collections import deque

NONCE_PAIR_SIZE = 24
_BLOCK = 256
_pool: deque[bytes] = deque()
os.register_at_fork(after_in_child=_pool.clear)


def nonce_pair() -> bytes:
    """24 random bytes never handed out before in this process."""
    while True:
        try:
            return _pool.popleft()
        except IndexError:
            block = os.urandom(NONCE_PAIR_SIZE * _BLOCK)
            _pool.extend(
                block[i : i + NONCE_PAIR_SIZE] for i in range(0, len(block), NONCE_PAIR_SIZE)
            )
