"""The operator keeps serving from its snapshot while PostgreSQL is unreachable, then resyncs.

The operator runs in-process on uvicorn over a fresh PostgreSQL schema reached through a
:class:`TcpProxy`; the admin writes the same schema directly. Its wall clock (tokens, envelope
timestamps) and monotonic clock (snapshot age) are fakes the test moves: after the cut, each
step moves both by 30 s and waits until the holder has seen a poll fail at that time, then
every endpoint must still answer. Over 11 minutes of fake time the endpoints keep working and
``/ops/healthcheck`` turns 503 once the snapshot is older than ``stale_after_seconds``. When the
proxy is restored, changes made meanwhile and after (an opt-out, a new API key) must reach the
operator within a few real seconds, through a pool whose connections the cut broke.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from operator_server import eventually, serve
from postgres_schema import fresh_schema
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from uid2 import (
    BidstreamClient,
    IdentityMapInput,
    IdentityMapResponse,
    IdentityMapV3Input,
    IdentityMapV3Response,
    IdentityTokens,
    SharingClient,
    TokenGenerateInput,
    TokenGenerateResponse,
    Uid2PublisherClient,
)
from uid2.admin import (
    Context,
    CreateApiKey,
    CreateParticipant,
    InitializeStore,
    ParticipantType,
    Role,
    create_api_key,
    create_participant,
    initialize_store,
    system_entropy,
)
from uid2.admin.optouts import RecordOptOut, record_optout
from uid2.core.enums import IdentityType
from uid2.operator.app import create_app
from uid2.operator.holder import SnapshotHolder
from uid2.operator.settings import Settings
from uid2.operator.snapshot import Snapshot
from uid2.operator.store_source import StoreOptOutSink, StoreSnapshotSource
from uid2.sdk.http import NO_RETRY, EnvelopeCodec, HttpSettings, OperatorSession, decode_secret
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, upgrade_schema
from uid2.store.secrets import generate_kek

POSTGRES_URL = os.environ.get("UID2_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL, reason="UID2_TEST_POSTGRES_URL is not set: no PostgreSQL to cut off"
    ),
]

EMAIL = "down@example.com"
OPTED_OUT_WHILE_DOWN = "gone@example.com"
DOMAIN = "example.com"
POLL_INTERVAL_S = 0.05
STALE_AFTER_S = 600
STEP_S = 30
STEPS = 22  # 11 minutes of fake time without a good poll
RESYNC_LIMIT_S = 5.0


class FakeClocks:
    """The operator's wall clock (epoch ms) and monotonic clock (s), moved only by the test."""

    def __init__(self, wall_ms: int) -> None:
        self.wall_ms = wall_ms
        self.monotonic_s = 10_000.0

    def wall(self) -> int:
        return self.wall_ms

    def wall_seconds(self) -> float:  # the SDK envelope's clock: requests carry this time
        return self.wall_ms / 1000

    def monotonic(self) -> float:
        return self.monotonic_s

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_ms / 1000, UTC)

    def advance(self, seconds: int) -> None:
        self.wall_ms += seconds * 1000
        self.monotonic_s += seconds


class WatchedSource:
    """The store source, counting the polls that failed (so the test can pace the clocks)."""

    def __init__(self, inner: StoreSnapshotSource) -> None:
        self._inner = inner
        self.failed_polls = 0

    def version(self) -> int:
        try:
            return self._inner.version()
        except Exception:
            self.failed_polls += 1  # only the poll thread writes this
            raise

    def load(self) -> Snapshot:
        return self._inner.load()


@dataclass(frozen=True)
class Credentials:
    site_id: int
    key: str
    secret: str


@dataclass(frozen=True)
class Store:
    engine: Engine
    box: SecretBox
    operator_url: str  # the same schema, through the proxy

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box)

    def participant(self, name: str, kind: ParticipantType, roles: frozenset[Role]) -> Credentials:
        command = CreateParticipant(name, frozenset({kind}), (DOMAIN,))
        site = create_participant(command, self.uow(), _ctx())
        return self.api_key(site.site_id, roles)

    def api_key(self, site_id: int, roles: frozenset[Role]) -> Credentials:
        created = create_api_key(CreateApiKey(site_id, roles), self.uow(), _ctx())
        return Credentials(site_id, created.key, created.secret)


def _ctx() -> Context:
    return Context(now_ms=time.time_ns() // 1_000_000, actor="test", entropy=system_entropy())


def _through(url: str, proxy: TcpProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    assert POSTGRES_URL is not None
    upstream = make_url(POSTGRES_URL)
    with TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as running:
        yield running


@pytest.fixture
def store(proxy: TcpProxy) -> Iterator[Store]:
    assert POSTGRES_URL is not None
    with fresh_schema(POSTGRES_URL, "uid2_down") as url:
        engine = make_engine(url)
        upgrade_schema(engine)
        built = Store(engine, SecretBox(generate_kek()), _through(url, proxy))
        initialize_store(InitializeStore(bucket_count=64), built.uow(), _ctx())
        yield built
        engine.dispose()


class Callers:
    """One SDK client per role; envelopes are stamped with the fake wall clock.

    Local decryption runs at the fake time too, through the SDK's ``_..._into_...(now)``
    methods (the official SDK's own test hooks, same spelling).
    """

    def __init__(self, url: str, store: Store, clocks: FakeClocks) -> None:
        self.url, self.clocks = url, clocks
        self.publisher = store.participant(
            "Publisher", ParticipantType.PUBLISHER, frozenset({Role.GENERATOR})
        )
        advertiser = store.participant(
            "Advertiser", ParticipantType.ADVERTISER, frozenset({Role.MAPPER})
        )
        dsp = store.participant("Bidder", ParticipantType.DSP, frozenset({Role.ID_READER}))
        sharer = store.participant(
            "Provider", ParticipantType.DATA_PROVIDER, frozenset({Role.SHARER})
        )
        by_name = {"publisher": self.publisher, "advertiser": advertiser}
        by_name |= {"dsp": dsp, "sharer": sharer}
        self.sessions = {name: self.session(made) for name, made in by_name.items()}
        self.refresher = Uid2PublisherClient(url, self.publisher.key, self.publisher.secret)
        self.bidstream = BidstreamClient(url, dsp.key, dsp.secret)
        self.sharing = SharingClient(url, sharer.key, sharer.secret)

    def session(self, credentials: Credentials) -> OperatorSession:
        made = OperatorSession(
            self.url, credentials.key, credentials.secret, settings=HttpSettings(retry=NO_RETRY)
        )
        made.codec = EnvelopeCodec(
            credentials.key, decode_secret(credentials.secret), clock=self.clocks.wall_seconds
        )
        return made

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        for client in (self.refresher, self.bidstream, self.sharing):
            client.close()

    def generate(self, email: str, session: OperatorSession | None = None) -> TokenGenerateResponse:
        request = TokenGenerateInput.from_email(email).as_request()
        caller = session or self.sessions["publisher"]
        return TokenGenerateResponse(caller.post_envelope("/v2/token/generate", request))

    def identity(self, email: str) -> IdentityTokens:
        identity = self.generate(email).get_identity()
        assert identity is not None
        return identity

    def raw_uid_from_map_v3(self, email: str) -> str:
        request = IdentityMapV3Input.from_emails([email])
        answer = self.sessions["advertiser"].post_envelope(
            "/v3/identity/map", request.as_request(), binary=True
        )
        return IdentityMapV3Response(answer, request).mapped_identities[email].current_raw_uid

    def raw_uid_from_map_v2(self, email: str) -> str:
        request = IdentityMapInput.from_emails([email])
        answer = self.sessions["advertiser"].post_envelope("/v2/identity/map", request.as_request())
        return IdentityMapResponse(answer, request).mapped_identities[email].get_raw_uid()

    def raw_uid_in(self, advertising_token: str) -> str | None:
        """Fetches the bidstream keys at the fake time and decrypts ``advertising_token``."""
        keys = self.sessions["dsp"].post_envelope("/v2/key/bidstream", None)
        assert self.bidstream.refresh_json(keys).success
        now = self.clocks.now()
        decrypted = self.bidstream._decrypt_token_into_raw_uid(advertising_token, DOMAIN, now)
        assert decrypted.success, decrypted.status
        assert decrypted.site_id == self.publisher.site_id
        return decrypted.uid

    def shared_round_trip(self, raw_uid: str) -> str | None:
        """Fetches the sharing keys at the fake time; encrypts ``raw_uid`` and decrypts it."""
        keys = self.sessions["sharer"].post_envelope("/v2/key/sharing", None)
        assert self.sharing.refresh_json(keys).success
        now = self.clocks.now()
        token = self.sharing._encrypt_raw_uid_into_token(raw_uid, None, now).encrypted_data
        assert token is not None
        return self.sharing._decrypt_token_into_raw_uid(token, now).uid

    def refreshed(self, identity: IdentityTokens) -> IdentityTokens:
        answer = self.refresher.refresh_token(identity)
        assert answer.is_success(), answer.status
        refreshed = answer.get_identity()
        assert refreshed is not None
        return refreshed


def assert_every_endpoint_serves(callers: Callers, raw_uid: str, before: IdentityTokens) -> None:
    """Generate, refresh, map v2/v3, key sharing/bidstream: all agree on the user's raw UID."""
    assert callers.raw_uid_from_map_v3(EMAIL) == raw_uid
    assert callers.raw_uid_from_map_v2(EMAIL) == raw_uid
    assert callers.raw_uid_in(_advertising_token(callers.identity(EMAIL))) == raw_uid
    assert callers.raw_uid_in(_advertising_token(callers.refreshed(before))) == raw_uid
    assert callers.shared_round_trip(raw_uid) == raw_uid


def _advertising_token(identity: IdentityTokens) -> str:
    token = identity.get_advertising_token()
    assert token is not None
    return token


@contextmanager
def running_operator(store: Store, clocks: FakeClocks) -> Iterator[tuple[str, WatchedSource]]:
    engine = make_engine(store.operator_url)
    source = WatchedSource(StoreSnapshotSource(engine, store.box))
    settings = Settings(poll_interval_seconds=POLL_INTERVAL_S, stale_after_seconds=STALE_AFTER_S)
    holder = SnapshotHolder(
        source,
        poll_interval_seconds=POLL_INTERVAL_S,
        stale_after_seconds=STALE_AFTER_S,
        monotonic=clocks.monotonic,
    )
    sink = StoreOptOutSink(engine, store.box)
    app = create_app(settings, source, optout_sink=sink, clock_ms=clocks.wall, holder=holder)
    try:
        with serve(app) as url:
            yield url, source
    finally:
        engine.dispose()


def test_the_operator_serves_while_postgres_is_down_and_resyncs_after(
    store: Store, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="uid2.operator.holder")
    clocks = FakeClocks(time.time_ns() // 1_000_000)
    with running_operator(store, clocks) as (url, source):
        callers = Callers(url, store, clocks)
        try:
            eventually(lambda: _serves(callers), timeout=10)  # the new participants are polled in
            raw_uid = callers.raw_uid_from_map_v3(EMAIL)
            before_cut = callers.identity(EMAIL)
            assert proxy.open_connections >= 1  # the pool holds a connection the cut will break
            assert httpx.get(url + "/ops/healthcheck").status_code == 200

            proxy.cut()
            health = _outage(clocks, source, lambda: _check(callers, raw_uid, before_cut))
            _assert_stale_only_past_the_limit(health)
            assert proxy.refused > 0  # the polls did try to reconnect

            # written while the operator cannot see it: the snapshot does not know yet
            record = RecordOptOut(IdentityType.Email, OPTED_OUT_WHILE_DOWN)
            record_optout(record, store.uow(), _ctx())
            assert callers.generate(OPTED_OUT_WHILE_DOWN).is_success()

            proxy.restore()
            newcomer = store.api_key(callers.publisher.site_id, frozenset({Role.GENERATOR}))
            eventually(lambda: _works(callers, newcomer), timeout=RESYNC_LIMIT_S)
            assert callers.generate(OPTED_OUT_WHILE_DOWN).is_optout()
            assert httpx.get(url + "/ops/healthcheck").status_code == 200
            _check(callers, raw_uid, before_cut)
        finally:
            callers.close()
    _assert_outage_logged_briefly(caplog, source.failed_polls)


def _outage(
    clocks: FakeClocks, source: WatchedSource, check: Callable[[], httpx.Response]
) -> list[httpx.Response]:
    """Moves the clocks ``STEPS`` times, each time after a failed poll; the health answers."""
    health = []
    for _ in range(STEPS):
        clocks.advance(STEP_S)
        _wait_for_a_failed_poll(source)  # so the holder has failed at this time
        health.append(check())
    return health


def _wait_for_a_failed_poll(source: WatchedSource) -> None:
    seen = source.failed_polls
    eventually(lambda: source.failed_polls > seen, timeout=5)


def _check(callers: Callers, raw_uid: str, before_cut: IdentityTokens) -> httpx.Response:
    assert_every_endpoint_serves(callers, raw_uid, before_cut)
    return httpx.get(callers.url + "/ops/healthcheck")


def _serves(callers: Callers) -> bool:
    try:
        return callers.generate(EMAIL).is_success()
    except Exception:
        return False


def _works(callers: Callers, credentials: Credentials) -> bool:
    session = callers.session(credentials)
    try:
        return callers.generate(EMAIL, session).is_success()
    except Exception:  # 401 until the operator has loaded the new key
        return False
    finally:
        session.close()


def _assert_stale_only_past_the_limit(health: list[httpx.Response]) -> None:
    for step, response in enumerate(health, start=1):
        stale = step * STEP_S > STALE_AFTER_S
        assert response.status_code == (503 if stale else 200), (step, response.text)
    last = health[-1].text
    assert last.startswith(f"snapshot: stale for {STEPS * STEP_S} s"), last
    assert "(last error: StoreError(unavailable))" in last


def _assert_outage_logged_briefly(caplog: pytest.LogCaptureFixture, failed_polls: int) -> None:
    messages = [record.getMessage() for record in caplog.records]
    failures = [m for m in messages if m.startswith("control-plane poll failed")]
    # one at the start, then one per minute of (fake) outage, not one per failed poll
    assert 1 <= len(failures) <= STEPS * STEP_S // 60 + 1 < failed_polls
    assert any(m.startswith("control plane reachable again after") for m in messages)


def test_a_connection_broken_while_idle_costs_no_failed_poll(store: Store, proxy: TcpProxy) -> None:
    # The pool checks a connection before handing it out (pool_pre_ping), so a database that
    # dropped its connections and came back between two polls is not even noticed.
    engine = make_engine(store.operator_url)
    source = StoreSnapshotSource(engine, store.box)
    try:
        first = source.version()
        connections_before = proxy.accepted
        assert proxy.open_connections == 1  # idle in the pool
        proxy.cut()
        proxy.restore()
        assert source.version() == first
        assert proxy.accepted == connections_before + 1  # the broken one was replaced
    finally:
        engine.dispose()
