"""The portal's input readers: pasted lists, domains, ids, and the per-address limiter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uid2.portal import forms
from uid2.portal.errors import PortalError
from uid2.portal.ratelimit import AttemptLimiter


@given(st.text(max_size=300))
def test_split_pasted_never_keeps_separators_or_duplicates(text: str) -> None:
    entries = forms.split_pasted(text)
    assert len(entries) == len(set(entries))
    assert all(e and not any(c in e for c in ",; \t\n") for e in entries)


def test_split_pasted_reads_every_separator_and_keeps_order() -> None:
    pasted = "b.com, a.com;c.com\td.com\ne.com  b.com"
    assert forms.split_pasted(pasted) == ["b.com", "a.com", "c.com", "d.com", "e.com"]


def test_split_pasted_caps_the_entries() -> None:
    with pytest.raises(PortalError) as refused:
        forms.split_pasted(" ".join(f"d{i}.com" for i in range(1001)))
    assert refused.value.field == "entries"


@pytest.mark.parametrize(
    ("typed", "root"),
    [
        ("https://shop.example.com/cart?x=1", "example.com"),
        ("news.example.co.uk", "example.co.uk"),
        ("EXAMPLE.org", "example.org"),
        ("http://localhost:3000", "localhost"),
        ("user.github.io", "user.github.io"),
        ("co.uk", "co.uk"),  # a public suffix is left for the admin layer to refuse
        ("http://[x", "http://[x"),
    ],
)
def test_root_domain(typed: str, root: str) -> None:
    assert forms.root_domain(typed) == root


@given(st.text(max_size=200))
def test_root_domain_never_raises(text: str) -> None:
    assert isinstance(forms.root_domain(text), str)


@given(st.lists(st.text(max_size=12), max_size=5))
def test_readers_refuse_with_a_field_or_answer(values: list[str]) -> None:
    for read, field in (
        (forms.roles, "roles"),
        (forms.participant_types, "types"),
        (forms.site_ids, "sites"),
    ):
        try:
            read(values)  # type: ignore[operator]
        except PortalError as error:
            assert error.status == 400 and error.field == field


@given(st.text(max_size=20))
def test_numbers_and_roles_refuse_cleanly(text: str) -> None:
    for read in (
        lambda: forms.whole_number(text, "n"),
        lambda: forms.fraction(text),
        lambda: forms.member_role(text),
        lambda: forms.identity_type(text),
    ):
        try:
            read()
        except PortalError as error:
            assert error.status == 400 and error.field is not None


def test_the_limiter_allows_n_per_minute_per_address() -> None:
    limiter = AttemptLimiter(per_minute=3)
    assert [limiter.allow("a", 1000 + i) for i in range(3)] == [None, None, None]
    assert limiter.allow("a", 2000) == 59
    assert limiter.allow("b", 2000) is None  # another address is not affected
    assert limiter.allow("a", 61_000) is None  # the first attempt left the window


def test_the_limiter_forgets_the_oldest_addresses_first() -> None:
    limiter = AttemptLimiter(per_minute=1)
    limiter.allow("first", 0)
    for i in range(10_000):
        limiter.allow(f"addr{i}", 1)
    assert limiter.allow("first", 2) is None  # evicted, so counted afresh
