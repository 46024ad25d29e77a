"""Reference: operator.md §7.3 (origin examples) and §10.2 behaviours 45-47."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uid2.admin.domains import registrable_domain


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("abc.examplewebsite.com", "examplewebsite.com"),
        ("aussiedomain.id.au", "aussiedomain.id.au"),
        ("www.cstg.co.uk", "cstg.co.uk"),
        ("localhost", "localhost"),
        ("app.localhost", "localhost"),
        ("Example.COM.", "example.com"),
        ("foo.github.io", "foo.github.io"),  # private section of the list, as Guava
        ("co.uk", None),
        ("com", None),
        ("local1host", None),
        ("127.0.0.1", None),
        ("[::1]", None),
        ("", None),
    ],
)
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected


@given(st.text(max_size=80))
def test_never_raises(host: str) -> None:
    registrable_domain(host)
