"""Keys rotate while tokens are being made: no token stops working during its lifetime.

An operator on a SQLite control plane (real uvicorn, polling the store every 50 ms) serves a
publisher that generates, refreshes and shares tokens from several threads, and a DSP it
shares with that decrypts them as they come. Meanwhile the admin use case behind
`uid2 keys rotate --force` rotates every keyset three times, a second apart. The rotation
policy is production's except that new keys activate ``LEAD_S`` seconds after the rotation
instead of an hour: long enough for every SDK here to fetch them first, as the hour is in
production, and short enough for three key changes to happen under load. The SDKs do not
retry, so every failed call counts.

Afterwards every token collected is decrypted with our SDK and the official one, now and a
second before it expires; every refresh token is refreshed now and, by the same operator
with its clock a minute before the token expires, late in its life; and every key a token
names must outlive the token (keys.py: "every token it encrypted stays readable for that
token's whole life").

Two starting points: keys just made, and a platform whose keys were made
``active_period + longest_token_lifetime`` ago and never rotated since, so that they expire
between the first rotation and the activation of the keys it adds.
"""

from __future__ import annotations

import base64
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uid2_client as official
from operator_server import serve
from sqlalchemy import Engine
from starlette.applications import Starlette

from uid2 import (
    BidstreamClient,
    HttpSettings,
    IdentityTokens,
    SharingClient,
    TokenGenerateInput,
    Uid2Error,
    Uid2PublisherClient,
)
from uid2.admin import (
    ChangeSharing,
    Context,
    CreateApiKey,
    CreateParticipant,
    InitializeStore,
    KeyRotationResult,
    ParticipantType,
    Role,
    RotateKeys,
    RotationPolicy,
    change_sharing,
    create_api_key,
    create_participant,
    initialize_store,
    rotate_keys,
    system_entropy,
)
from uid2.core.keys import Key, Keyring, make_keyring
from uid2.core.refresh import (
    RefreshTokenFields,
    UnwrappedRefreshToken,
    decode_refresh_token,
    unwrap_refresh_token,
)
from uid2.core.tokens import TokenFields, decode_token_fields
from uid2.operator.app import create_app, wall_clock_ms
from uid2.operator.settings import Settings
from uid2.operator.store_source import StoreSnapshotSource
from uid2.sdk.http import NO_RETRY
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import generate_kek

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

LEAD_S = 3  # stands in for the production hour between a rotation and its keys' activation
POLICY = RotationPolicy(activates_in_s=LEAD_S)
KEY_LIFE_S = POLICY.active_period_s + POLICY.longest_token_lifetime_s
ROTATIONS = 3
POLL_S = 0.05
SDK_KEY_REFRESH_S = 0.5  # well inside LEAD_S, as the SDKs' hourly refresh is inside the hour
NO_RETRIES = HttpSettings(retry=NO_RETRY)
DOMAIN = "example.com"
GENERATORS = 3
PAUSE_S = 0.01  # between two calls of one load thread: bounds the number of tokens to check
MAX_TURNS = 5000  # per load thread, whatever the clock does
FRESH, ENDING = "fresh-keys", "keys-at-end-of-life"


@dataclass(frozen=True)
class Creds:
    site_id: int
    key: str
    secret: str


@dataclass(frozen=True)
class Platform:
    engine: Engine
    box: SecretBox
    publisher: Creds
    dsp: Creds
    # whole second 0.9 s after the first rotation; ENDING's set-up keys expire then
    deadline_s: int

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box)

    def keyring(self) -> Keyring:
        """Every key in the store (refresh keys too), as the operator holds them."""
        with self.uow() as uow:
            records = uow.keyset_keys.list_all()
        return make_keyring(
            Key(r.key_id, r.secret, r.created_s, r.activates_s, r.expires_s, keyset_id=r.keyset_id)
            for r in records
        )


@dataclass
class Harvest:
    """What the load made, and what went wrong under it (statuses only, never tokens)."""

    identities: list[IdentityTokens] = field(default_factory=list)
    shared: list[tuple[str, str]] = field(default_factory=list)  # (token, raw UID2)
    errors: list[str] = field(default_factory=list)
    decrypted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def context(now_ms: int | None = None) -> Context:
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return Context(now_ms=now, actor="test", entropy=system_entropy())


@pytest.fixture(params=[FRESH, ENDING])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    engine = make_engine(sqlite_url(tmp_path / "uid2.db"))
    upgrade_schema(engine)
    box = SecretBox(generate_kek())
    deadline_s = int(time.time()) + 4  # leaves time to start the operator and the load
    made_ms = (deadline_s - KEY_LIFE_S) * 1000 if request.param == ENDING else None
    ctx = context(made_ms)

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine, box)

    def creds(name: str, kind: ParticipantType, roles: set[Role]) -> Creds:
        site = create_participant(CreateParticipant(name, frozenset({kind}), (DOMAIN,)), uow(), ctx)
        made = create_api_key(CreateApiKey(site.site_id, frozenset(roles)), uow(), ctx)
        return Creds(site.site_id, made.key, made.secret)

    initialize_store(InitializeStore(bucket_count=64), uow(), ctx)
    publisher = creds("Publisher", ParticipantType.PUBLISHER, {Role.GENERATOR, Role.SHARER})
    dsp = creds("Bidder", ParticipantType.DSP, {Role.ID_READER})
    change_sharing(ChangeSharing(publisher.site_id, True, to_site_id=dsp.site_id), uow(), ctx)
    yield Platform(engine, box, publisher, dsp, deadline_s)
    engine.dispose()


def operator_app(platform: Platform, clock_ms: Callable[[], int] = wall_clock_ms) -> Starlette:
    source = StoreSnapshotSource(platform.engine, platform.box)
    return create_app(Settings(poll_interval_seconds=POLL_S), source, clock_ms=clock_ms)


# --------------------------------------------------------------------------- the load


def generate_loop(url: str, creds: Creds, n: int, stop: threading.Event, out: Harvest) -> None:
    """A token for a new email each turn; every fourth turn refreshes an earlier one."""
    with closing(
        Uid2PublisherClient(url, creds.key, creds.secret, http_settings=NO_RETRIES)
    ) as client:
        mine: list[IdentityTokens] = []
        for turn in range(MAX_TURNS):
            if stop.wait(PAUSE_S):
                return
            try:
                if turn % 4 == 3 and mine:
                    if not client.refresh_token(mine[turn // 8]).is_success():
                        out.fail("refresh under load: not a success")
                    continue
                email = f"load{n}.{turn}@example.org"
                identity = client.generate_token(
                    TokenGenerateInput.from_email(email)
                ).get_identity()
            except Uid2Error as error:
                out.fail(f"call under load: {type(error).__name__}")
                continue
            if identity is None:
                out.fail("generate under load: no identity")
                continue
            mine.append(identity)
            with out.lock:
                out.identities.append(identity)


def share_loop(url: str, creds: Creds, stop: threading.Event, out: Harvest) -> None:
    with SharingClient(url, creds.key, creds.secret, http_settings=NO_RETRIES) as sharer:
        if not sharer.refresh().success:
            out.fail("sharer: first key refresh failed")
            return
        sharer.start_auto_refresh(SDK_KEY_REFRESH_S)
        for _ in range(MAX_TURNS):
            if stop.wait(PAUSE_S):
                return
            raw = base64.b64encode(os.urandom(32)).decode()
            made = sharer.encrypt_raw_uid_into_token(raw)
            if not made.success or made.encrypted_data is None:
                out.fail(f"sharing encrypt under load: {made.status.name}")
                continue
            with out.lock:
                out.shared.append((made.encrypted_data, raw))


def bid_loop(url: str, creds: Creds, stop: threading.Event, out: Harvest) -> None:
    """The DSP decrypts the newest tokens as they are made, its keys refreshed as in
    production: in the background, and on demand for a key it does not know."""
    with (
        BidstreamClient(url, creds.key, creds.secret, http_settings=NO_RETRIES) as bidder,
        SharingClient(url, creds.key, creds.secret, http_settings=NO_RETRIES) as reader,
    ):
        for client in (bidder, reader):
            client.refresh()
            client.start_auto_refresh(SDK_KEY_REFRESH_S)
        for _ in range(MAX_TURNS):
            if stop.wait(PAUSE_S):
                return
            with out.lock:
                newest = out.identities[-1].get_advertising_token() if out.identities else None
                shared = out.shared[-1][0] if out.shared else None
            if newest is None or shared is None:
                continue
            for result in (
                bidder.decrypt_token_into_raw_uid(newest, DOMAIN),
                reader.decrypt_token_into_raw_uid(shared),
            ):
                if not result.success:
                    out.fail(f"decrypt under load: {result.status.name}")
            with out.lock:
                out.decrypted += 2


def rotate_on_schedule(platform: Platform) -> list[KeyRotationResult]:
    """Rotates every keyset ``ROTATIONS`` times, a second apart, the first 0.9 s before the
    deadline (so that its keys activate ``LEAD_S - 1`` s after the deadline)."""
    results = []
    for i in range(ROTATIONS):
        time.sleep(max(0.0, platform.deadline_s - 0.9 + i - time.time()))
        results.append(rotate_keys(RotateKeys(force=True), platform.uow(), context(), POLICY))
    return results


def run_load(url: str, platform: Platform) -> tuple[Harvest, list[KeyRotationResult]]:
    """The load from now until a second after the last rotation's keys activate."""
    out, stop = Harvest(), threading.Event()
    loops: list[Callable[[], None]] = [
        *(lambda n=n: generate_loop(url, platform.publisher, n, stop, out)
          for n in range(GENERATORS)),
        lambda: share_loop(url, platform.publisher, stop, out),
        lambda: bid_loop(url, platform.dsp, stop, out),
    ]  # fmt: skip
    threads = [threading.Thread(target=loop) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        results = rotate_on_schedule(platform)
        last_activation_s = max(k.activates_s for r in results for k in r.rotated)
        time.sleep(max(0.0, last_activation_s + 1 - time.time()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return out, results


# --------------------------------------------------------------------------- the checks


def key_shortfalls(keyring: Keyring, harvest: Harvest) -> dict[int, int]:
    """Key id -> the most seconds by which it expires before a token it encrypted."""
    short: dict[int, int] = {}

    def check(key_ids: Sequence[int], token_expires_ms: int) -> None:
        for key_id in key_ids:
            key = keyring.get(key_id)
            missing_ms = token_expires_ms - (0 if key is None else key.expires * 1000)
            if missing_ms > 0:
                short[key_id] = max(short.get(key_id, 0), math.ceil(missing_ms / 1000))

    tokens = [i.get_advertising_token() or "" for i in harvest.identities]
    for fields in decoded(keyring, [*tokens, *(token for token, _ in harvest.shared)]):
        check((fields.master_key_id, fields.site_key_id), fields.expires_ms)
    for identity in harvest.identities:
        key_ids, refresh = refresh_token_keys(keyring, identity.get_refresh_token() or "")
        check(key_ids, refresh.expires_ms)
    return short


def refresh_keys_used(keyring: Keyring, identities: list[IdentityTokens]) -> set[int]:
    return {
        key_id
        for identity in identities
        for key_id in refresh_token_keys(keyring, identity.get_refresh_token() or "")[0]
    }


def decoded(keyring: Keyring, tokens: list[str]) -> list[TokenFields]:
    every = [decode_token_fields(token, keyring) for token in tokens]
    fields = [f for f in every if isinstance(f, TokenFields)]
    assert len(fields) == len(tokens), "a token the store's keys cannot decode"
    return fields


def refresh_token_keys(keyring: Keyring, token: str) -> tuple[list[int], RefreshTokenFields]:
    """The keys a refresh token names (its wrapper's and its own), and its fields."""
    named: list[int] = []

    def lookup(key_id: int) -> Key | None:
        named.append(key_id)
        return keyring.get(key_id)

    unwrapped = unwrap_refresh_token(token, lookup)
    assert isinstance(unwrapped, UnwrappedRefreshToken), unwrapped
    fields = decode_refresh_token(unwrapped.inner, lookup)
    assert isinstance(fields, RefreshTokenFields), fields
    return named, fields


def lifetime_instants(expires_ms: int) -> tuple[datetime, datetime]:
    """Now, and a second before the token expires."""
    return datetime.now(UTC), datetime.fromtimestamp(expires_ms / 1000 - 1, UTC)


def undecryptable(url: str, dsp: Creds, keyring: Keyring, harvest: Harvest) -> Counter[str]:
    """Failures of the DSP's clients, ours and the official SDK's, refreshed after the
    rotations, at two moments in each token's lifetime."""
    failures: Counter[str] = Counter()
    ours_b, ours_s = (
        BidstreamClient(url, dsp.key, dsp.secret),
        SharingClient(url, dsp.key, dsp.secret),
    )
    theirs_b = official.BidstreamClient(url, dsp.key, dsp.secret)
    theirs_s = official.SharingClient(url, dsp.key, dsp.secret)
    with ours_b, ours_s:
        for client in (ours_b, ours_s, theirs_b, theirs_s):
            assert client.refresh().success
        for identity in harvest.identities:
            token = identity.get_advertising_token() or ""
            for at in lifetime_instants(identity.get_identity_expires() or 0):
                ours = ours_b._decrypt_token_into_raw_uid(token, DOMAIN, at)
                theirs = theirs_b._decrypt_token_into_raw_uid(token, DOMAIN, at)
                failures.update(compare("advertising", ours.status.name, ours.uid, theirs, None))
        for (token, raw), fields in zip(
            harvest.shared, decoded(keyring, [t for t, _ in harvest.shared]), strict=True
        ):
            for at in lifetime_instants(fields.expires_ms):
                ours = ours_s._decrypt_token_into_raw_uid(token, at)
                theirs = theirs_s._decrypt_token_into_raw_uid(token, at)
                failures.update(compare("sharing", ours.status.name, ours.uid, theirs, raw))
    return failures


def compare(kind: str, status: str, uid: str | None, theirs: Any, raw: str | None) -> list[str]:
    """What is wrong with one decryption by both SDKs (``raw``: the expected raw UID2)."""
    problems = []
    if status != "SUCCESS":
        problems.append(f"{kind}: ours {status}")
    if not theirs.success:
        problems.append(f"{kind}: official {theirs.status}")
    if uid != theirs.uid or (raw is not None and uid != raw):
        problems.append(f"{kind}: the raw UID2s differ")
    return problems


def unrefreshable(url: str, publisher: Creds, identities: list[IdentityTokens]) -> Counter[str]:
    failures: Counter[str] = Counter()
    client = Uid2PublisherClient(url, publisher.key, publisher.secret, http_settings=NO_RETRIES)
    with closing(client):
        for identity in identities:
            try:
                answer = client.refresh_token(identity)
            except (Uid2Error, ValueError) as error:
                failures[type(error).__name__] += 1
                continue
            if not answer.is_success():
                failures[str(answer.status)] += 1
    return failures


def test_no_token_stops_working_during_its_lifetime_when_keys_rotate_under_load(
    platform: Platform,
) -> None:
    with serve(operator_app(platform)) as url:
        out, rotations = run_load(url, platform)
        assert out.errors == [], Counter(out.errors)
        # every keyset each time: master, refresh, fallback publisher, the publisher's, ...
        assert all(len(r.rotated) >= 4 and not r.skipped_keyset_ids for r in rotations)
        assert min(len(out.identities), len(out.shared), out.decrypted) >= 200
        keyring = platform.keyring()
        made_with = decoded(keyring, [i.get_advertising_token() or "" for i in out.identities])
        assert len({f.master_key_id for f in made_with}) == ROTATIONS + 1  # each key was used
        shared_with = decoded(keyring, [token for token, _ in out.shared])
        assert len({f.site_key_id for f in shared_with}) == ROTATIONS + 1
        assert len(refresh_keys_used(keyring, out.identities)) == ROTATIONS + 1
        assert key_shortfalls(keyring, out) == {}
        assert undecryptable(url, platform.dsp, keyring, out) == Counter()
        assert unrefreshable(url, platform.publisher, out.identities) == Counter()
    late_ms = min(i.get_refresh_expires() or 0 for i in out.identities) - 60_000
    with serve(operator_app(platform, lambda: late_ms)) as late_url:
        assert unrefreshable(late_url, platform.publisher, out.identities) == Counter()
