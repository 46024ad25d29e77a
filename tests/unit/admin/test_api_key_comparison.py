"""API keys are compared in constant time: equal-length digests through ``hmac.compare_digest``.

A timing measurement would be flaky on a shared machine, so this proves the mechanism instead:
every comparison, right key or wrong, goes through ``compare_digest`` with inputs of one
length, whatever the length or content of the presented key.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uid2.admin import apikeys
from uid2.core.encoding import b64encode
from uid2.store.records import ApiKey, Role

KEY = "UID2-C-L-999-abcdef.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG="
SALT = os.urandom(32)
RECORD = ApiKey(
    key_id="UID2-C-L-999-abcde", site_id=999, key_hash=apikeys.hash_api_key(KEY, SALT),
    key_salt=b64encode(SALT), secret=os.urandom(32), roles=frozenset({Role.GENERATOR}),
    name="n", contact="c", created_s=0, disabled=False,
)  # fmt: skip


@contextmanager
def recorded_comparisons() -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        seen.append((a, b))
        return real(a, b)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hmac, "compare_digest", spy)
        yield seen


def test_the_right_key_matches_through_compare_digest() -> None:
    with recorded_comparisons() as seen:
        assert apikeys.api_key_matches(KEY, RECORD)
    assert seen == [(RECORD.key_hash, RECORD.key_hash)]


@settings(max_examples=200)
@given(presented=st.text(max_size=200))
def test_any_wrong_key_is_refused_by_an_equal_length_comparison(presented: str) -> None:
    with recorded_comparisons() as seen:
        matched = apikeys.api_key_matches(presented, RECORD)
    assert matched == (presented == KEY)
    assert len(seen) == 1
    assert len(seen[0][0]) == len(seen[0][1]) == len(RECORD.key_hash)
