"""Whatever a pixel URL holds, the receiver answers a GIF (never a 5xx), stores the event
(never a database error), and reading the hit into an event never raises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pixel_receiver_world import (
    OTHER_KEY,
    OTHER_RAW_UID,
    OTHER_SITE,
    RAW_UID,
    KeyServer,
    TestClient,
    assert_gif,
    build_receiver,
    encrypt,
    metric,
    running,
    sender_client,
)

from uid2 import SharingClient
from uid2.core.enums import DecryptionStatus
from uid2.core.tokens.result import DecryptResult
from uid2.pixel.app import parse_fields
from uid2.pixel.events import (
    MAX_PARAMS_BYTES,
    Extra,
    PixelKind,
    build_event,
)
from uid2.store import sqlite_url

STATUSES = {s.name for s in DecryptionStatus} | {e.value for e in Extra}
TOKENS = [
    encrypt(RAW_UID),
    encrypt(OTHER_RAW_UID, sender_client(OTHER_SITE, OTHER_KEY)),
    RAW_UID,
]
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, SharingClient]]:
    path: Path = tmp_path_factory.mktemp("pixel-properties") / "pixel.db"
    keys = KeyServer()
    app = build_receiver(sqlite_url(path), keys)
    receiver = keys.receiver_client()
    assert receiver.refresh().success
    try:
        with running(app) as http:
            yield http, receiver
            assert metric(http, "uid2_pixel_dropped_events_total", reason="db_error") == 0
            assert metric(http, "uid2_pixel_unconfirmed_events_total") == 0
    finally:
        receiver.close()
        app._engine.dispose()


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    token = draw(st.sampled_from(TOKENS))
    if draw(st.booleans()):
        return token
    i = draw(st.integers(0, len(token) - 1))
    return token[:i] + draw(st.characters(codec="utf-8")) + token[i + 1 :]


field_names = st.one_of(st.sampled_from(["uid2_token", "ev", "cb", "n"]), st.text(max_size=20))
field_values = st.one_of(mutated_tokens(), st.text(max_size=80), st.text(max_size=3000))
structured = st.lists(st.tuples(field_names, field_values), max_size=70).map(urlencode)
query_strings = st.one_of(
    st.binary(max_size=400).map(lambda b: quote_from_bytes(b, safe="=&")),
    st.text(max_size=400).map(lambda t: quote(t, safe="=&+%;/?")),
    structured,
)
referers = st.one_of(st.none(), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)))


@PROPERTY
@given(query=query_strings, referer=referers, beacon=st.booleans())
def test_any_query_string_is_answered_and_stored(
    world: tuple[TestClient, SharingClient], query: str, referer: str | None, beacon: bool
) -> None:
    http, _ = world
    headers = {} if referer is None else {"Referer": referer}
    if beacon:
        answer = http.post("/px/creative", content=query.encode(), headers=headers)
        assert answer.status_code == 204
    else:
        answer = http.get(f"/px/tracking?{query}", headers=headers)
        assert_gif(answer)


@PROPERTY
@given(
    fields=st.one_of(
        st.none(),
        st.dictionaries(field_names, st.lists(field_values, max_size=3), max_size=10),
        st.binary(max_size=600).map(parse_fields),
    ),
    referer=st.one_of(st.none(), st.text()),
    now_ms=st.integers(0, 2**42),
)
def test_build_event_never_raises_and_keeps_no_token(
    world: tuple[TestClient, SharingClient],
    fields: dict[str, list[str]] | None,
    referer: str | None,
    now_ms: int,
) -> None:
    _, receiver = world

    def decrypt(token: str) -> DecryptResult:
        return receiver._decrypt_token_into_raw_uid(token).result

    event = build_event(PixelKind.TRACKING, fields, referer, now_ms, decrypt)
    assert event.status in STATUSES
    assert event.received_ms == now_ms
    assert (event.raw_uid2 is not None) == (event.status == "SUCCESS")
    params = json.loads(event.params)
    assert isinstance(params, dict)
    assert not {"uid2_token", "ev", "cb"} & set(params)
    assert len(event.params.encode("utf-8", "replace")) <= MAX_PARAMS_BYTES
    assert len(event.event) <= 64 and not any(ord(c) < 0x20 for c in event.event)
    assert event.referrer_domain is None or len(event.referrer_domain) <= 253
