from __future__ import annotations

import os
import threading

import pytest

from uid2.sdk import _nonces
from uid2.sdk._nonces import NONCE_PAIR_SIZE, nonce_pair


def test_nonces_never_repeat_across_threads() -> None:
    seen: list[bytes] = []

    def draw() -> None:
        seen.extend(nonce_pair() for _ in range(3000))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 12000 == len(set(seen))
    assert {len(n) for n in seen} == {NONCE_PAIR_SIZE}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_the_parents_nonces() -> None:
    nonce_pair()  # fill the pool
    assert len(_nonces._pool) > 0
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it would use next
        os.write(write, nonce_pair())
        os._exit(0)
    os.close(write)
    child_next = os.read(read, NONCE_PAIR_SIZE)
    os.close(read)
    os.waitpid(pid, 0)
    parent_next = nonce_pair()
    assert child_next != parent_next and len(child_next) == NONCE_PAIR_SIZE
