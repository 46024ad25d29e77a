"""Reading a pixel hit into an event (pure), and the sender's URL helpers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uid2.core.enums import DecryptionStatus, IdentityScope
from uid2.core.tokens.result import DecryptResult
from uid2.pixel.events import MAX_PARAMS_BYTES, Extra, PixelKind, build_event, looks_like_raw_uid
from uid2.sdk.pixels import creative_pixel_url, tracking_pixel_url

RAW_UID = "Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk="
TOKEN = "A4AAAAAB" + "x" * 200
NOW = 1_767_225_600_000
OK = DecryptResult(
    DecryptionStatus.SUCCESS, RAW_UID, NOW - 5, 7, 7, IdentityScope.UID2, generated_ms=NOW - 1
)


def _decrypt(token: str) -> DecryptResult:
    return OK if token == TOKEN else DecryptResult(DecryptionStatus.INVALID_PAYLOAD, site_id=None)


def _event(fields: dict[str, list[str]] | None, referer: str | None = None) -> object:
    return build_event(PixelKind.TRACKING, fields, referer, NOW, _decrypt)


def test_a_good_token_keeps_the_raw_uid_and_the_token_times() -> None:
    event = _event({"uid2_token": [TOKEN], "ev": ["purchase"], "order": ["42"], "sku": ["a", "b"]})
    assert event.status == "SUCCESS" and event.raw_uid2 == RAW_UID  # type: ignore[attr-defined]
    assert (event.sender_site_id, event.established_ms, event.generated_ms) == (7, NOW - 5, NOW - 1)  # type: ignore[attr-defined]
    assert json.loads(event.params) == {"order": "42", "sku": ["a", "b"]}  # type: ignore[attr-defined]
    assert TOKEN not in event.params  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"ev": ["x"]}, Extra.NO_TOKEN.value),
        ({"uid2_token": [""]}, Extra.NO_TOKEN.value),
        ({"uid2_token": [RAW_UID]}, Extra.RAW_UID_REJECTED.value),
        ({"uid2_token": [RAW_UID.rstrip("=")]}, Extra.RAW_UID_REJECTED.value),
        ({"uid2_token": ["x" * 2000]}, "INVALID_PAYLOAD"),
        ({"uid2_token": ["garbage"]}, "INVALID_PAYLOAD"),
        ({"uid2_token": [TOKEN], "big": ["v" * MAX_PARAMS_BYTES]}, Extra.PARAMS_TOO_LARGE.value),
        (None, Extra.PARAMS_TOO_LARGE.value),
    ],
)
def test_every_failure_has_a_status_and_keeps_no_identifier(
    fields: dict[str, list[str]] | None, status: str
) -> None:
    event = _event(fields)
    assert event.status == status and event.raw_uid2 is None  # type: ignore[attr-defined]
    assert RAW_UID not in event.params  # type: ignore[attr-defined]


def test_only_the_referrers_host_is_kept() -> None:
    event = _event({"uid2_token": [TOKEN]}, "https://Shop.Example/thanks?email=a@b.com")
    assert event.referrer_domain == "shop.example"  # type: ignore[attr-defined]
    assert _event({}, "not a url [").referrer_domain is None  # type: ignore[attr-defined]


def test_event_names_are_bounded_and_printable() -> None:
    event = _event({"ev": ["a\x00b\nc" + "z" * 100]})
    assert event.event == "abc" + "z" * 61  # type: ignore[attr-defined]


def test_raw_uids_are_told_from_tokens() -> None:
    assert looks_like_raw_uid(RAW_UID) and not looks_like_raw_uid(TOKEN)


@given(
    st.dictionaries(st.text(max_size=20), st.lists(st.text(max_size=100), max_size=3), max_size=10),
    st.one_of(st.none(), st.text(max_size=100)),
)
def test_build_event_never_raises(fields: dict[str, list[str]], referer: str | None) -> None:
    event = build_event(PixelKind.CREATIVE, fields, referer, NOW, _decrypt)
    assert event.kind is PixelKind.CREATIVE and json.loads(event.params) is not None


def test_tracking_urls_carry_the_token_percent_encoded() -> None:
    url = tracking_pixel_url("https://dsp.example/px/tracking", "a+b/c=", "purchase", {"v": "1 2"})
    query = parse_qs(urlsplit(url).query)
    assert query == {"uid2_token": ["a+b/c="], "ev": ["purchase"], "v": ["1 2"]}
    assert "a%2Bb%2Fc%3D" in url


def test_creative_templates_take_the_token_once() -> None:
    url = creative_pixel_url(
        "https://adv.example/px/creative?ev=imp&uid2_token={UID2_TOKEN}", "a+b"
    )
    assert url.endswith("uid2_token=a%2Bb")
    with pytest.raises(ValueError, match="exactly once"):
        creative_pixel_url("https://adv.example/px/creative", "t")


def test_the_cache_buster_is_not_kept() -> None:
    event = _event({"uid2_token": [TOKEN], "cb": ["0123456789abcdef"], "v": ["1"]})
    assert json.loads(event.params) == {"v": "1"}  # type: ignore[attr-defined]


def test_beacon_bodies_are_form_fields_or_a_json_object_of_strings() -> None:
    from uid2.pixel.app import beacon_fields, merge_fields

    assert beacon_fields(b"uid2_token=abc&ev=x") == {"uid2_token": ["abc"], "ev": ["x"]}
    assert beacon_fields(b'{"uid2_token": "abc", "ev": "x"}') == {
        "uid2_token": ["abc"],
        "ev": ["x"],
    }
    for refused in (b'{"uid2_token": ["abc"]}', b"[1]", b"{not json", b'{"a": {"b": "c"}}'):
        assert beacon_fields(refused) is None
    assert merge_fields({"a": ["1"]}, {"a": ["2"], "b": ["3"]}) == {"a": ["1", "2"], "b": ["3"]}
    assert merge_fields({"a": ["1"]}, None) is None
