"""Snapshot building, API-key lookup, the holder's polling and the settings."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from operator_world import PUBLISHER, TestClient, World, build_app

from uid2.core.encoding import b64encode
from uid2.core.enums import IdentityEnvironment, IdentityScope
from uid2.operator.holder import InMemorySnapshotSource, SnapshotHolder
from uid2.operator.settings import Settings, SettingsError
from uid2.operator.snapshot import ControlPlane, SnapshotError, build_snapshot, require_servable
from uid2.store.records import ApiKey, OptOut, Role


def test_no_salts_refuses_to_start(world: World) -> None:
    with pytest.raises(SnapshotError, match="no salts"):
        build_app(replace(world, plane=replace(world.plane, salt_config=None)))
    with pytest.raises(SnapshotError, match="incomplete"):
        build_app(
            replace(world, plane=replace(world.plane, salt_buckets=world.plane.salt_buckets[1:]))
        )


@pytest.mark.parametrize(("keyset", "message"), [(-1, "master"), (-2, "refresh")])
def test_no_active_master_or_refresh_key_refuses_to_start(
    world: World, keyset: int, message: str
) -> None:
    keys = tuple(k for k in world.plane.keyset_keys if k.keyset_id != keyset)
    with pytest.raises(SnapshotError, match=message):
        build_app(replace(world, plane=replace(world.plane, keyset_keys=keys)))


def test_api_key_lookup_by_key_id_and_cache(world: World) -> None:
    snapshot = build_snapshot(world.plane, InMemorySnapshotSource(world.plane).optouts)
    key = world.keys["generator"]
    record = snapshot.authenticate(f"Bearer {key}")
    assert record is not None and record.site_id == PUBLISHER
    assert snapshot.authenticate(f"Bearer {key}") is record  # cached
    assert snapshot.authenticate(f"Bearer {key[:-1]}x") is None  # same key id, wrong key
    assert snapshot.authenticate(f"Token {key}") is None
    assert snapshot.authenticate(f"Bearer {world.keys['disabled']}") is None


def test_legacy_key_formats_are_tried_against_every_salt(world: World) -> None:
    salt = b"s" * 32
    digest = b64encode(hashlib.sha512(salt + b"old-style-key").digest())
    legacy = ApiKey(
        key_id="legacy", site_id=PUBLISHER, key_hash=digest, key_salt=b64encode(salt),
        secret=b"x" * 32, roles=frozenset({Role.GENERATOR}), name="legacy", contact="",
        created_s=0, disabled=False,
    )  # fmt: skip
    plane = replace(world.plane, api_keys=(*world.plane.api_keys, legacy))
    snapshot = build_snapshot(plane, InMemorySnapshotSource(plane).optouts, api_key_cache_size=1)
    assert snapshot.authenticate("Bearer old-style-key") == legacy
    assert snapshot.authenticate(f"Bearer {world.keys['generator']}") is not None  # evicts
    assert snapshot.authenticate("Bearer old-style-key") == legacy


def test_two_default_keysets_pick_the_lowest_id(world: World) -> None:
    extra = replace(next(k for k in world.plane.keysets if k.keyset_id == 10), keyset_id=30)
    plane = replace(world.plane, keysets=(*world.plane.keysets, extra))
    assert (
        build_snapshot(plane, InMemorySnapshotSource(plane).optouts).default_keysets[PUBLISHER]
        == 10
    )


class FlakySource:
    def __init__(self, plane: ControlPlane) -> None:
        self.inner = InMemorySnapshotSource(plane)
        self.failing = False

    def version(self) -> int:
        if self.failing:
            raise ConnectionError("database unreachable")
        return self.inner.version()

    def load(self):  # type: ignore[no-untyped-def]
        return self.inner.load()


def test_holder_swaps_on_a_new_version_and_reports_staleness(world: World) -> None:
    clock = [100.0]
    source = FlakySource(world.plane)
    holder = SnapshotHolder(
        source, poll_interval_seconds=1, stale_after_seconds=30, monotonic=lambda: clock[0]
    )
    first = holder.current
    assert not holder.poll_once() and holder.current is first
    source.inner.replace(world.plane)
    assert holder.poll_once() and holder.current is not first and holder.current.version == 2
    source.failing = True
    clock[0] += 31
    assert not holder.poll_once()
    assert holder.current.version == 2  # still serving
    assert holder.problems() == ["snapshot: stale for 31 s (last error: ConnectionError)"]
    source.failing = False
    holder.poll_once()
    assert holder.problems() == []


def test_healthcheck_turns_503_when_stale(world: World) -> None:
    clock = [0.0]
    source = FlakySource(world.plane)
    settings = world.settings(stale_after_seconds=5)
    holder = SnapshotHolder(
        source, poll_interval_seconds=3600, stale_after_seconds=5, monotonic=lambda: clock[0]
    )
    app, _ = build_app(world, settings, holder=holder)
    with TestClient(app) as client:
        source.failing = True
        clock[0] = 10
        holder.poll_once()
        response = client.get("/ops/healthcheck")
        assert response.status_code == 503 and response.text.startswith("snapshot: stale for 10 s")
        generator_ok = client.post("/v2/token/refresh", content=b"abcd").status_code
        assert generator_ok == 400  # still answering from the last snapshot


def test_holder_thread_polls(world: World) -> None:
    import time

    source = InMemorySnapshotSource(world.plane)
    holder = SnapshotHolder(source, poll_interval_seconds=0.01, stale_after_seconds=60)
    holder.start()
    try:
        source.replace(world.plane)
        deadline = time.monotonic() + 5
        while holder.current.version != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holder.current.version == 2
    finally:
        holder.stop()


def test_optouts_keep_the_earliest_time() -> None:
    from uid2.operator.snapshot import OptOutIndex

    index = OptOutIndex()
    index.add(
        [
            OptOut(5, b"f" * 32, b"r" * 32, 200),
            OptOut(6, b"f" * 32, b"r" * 32, 100),
            OptOut(7, b"f" * 32, b"r" * 32, 300),
        ]
    )
    assert index.flh_opted_out_since(b"f" * 32) == 100
    assert index.raw_uid_opted_out_since(b64encode(b"r" * 32)) == 100
    assert index.last_seq == 7 and len(index) == 1


def test_settings_from_env() -> None:
    env = {
        "UID2_OPERATOR_PORT": "9090",
        "UID2_OPERATOR_IDENTITY_SCOPE": "euid",
        "UID2_OPERATOR_IDENTITY_ENVIRONMENT": "test",
        "UID2_OPERATOR_CLIENT_SIDE_TOKEN_GENERATE": "false",
        "UID2_OPERATOR_STALE_AFTER_SECONDS": "12.5",
        "UID2_OPERATOR_MAX_SHARING_LIFETIME_SECONDS": "100",
        "UID2_OPERATOR_RAW_UID_V3": "",
        "OTHER": "x",
    }
    settings = Settings.from_env(env)
    assert settings.port == 9090 and settings.identity_scope is IdentityScope.EUID
    assert settings.identity_environment is IdentityEnvironment.TEST
    assert not settings.client_side_token_generate and settings.stale_after_seconds == 12.5
    assert settings.uses_raw_uid_v3 and settings.sharing_lifetime_seconds == 100
    defaults = Settings.from_env({})
    assert (
        defaults.identity_token_expires_after_seconds,
        defaults.refresh_token_expires_after_seconds,
    ) == (259_200, 2_592_000)
    assert (
        defaults.refresh_identity_token_after_seconds == 3600
        and defaults.client_side_token_generate
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"UID2_OPERATOR_PORT": "http"}, "UID2_OPERATOR_PORT"),
        ({"UID2_OPERATOR_ENABLE_PHONE_SUPPORT": "maybe"}, "UID2_OPERATOR_ENABLE_PHONE_SUPPORT"),
        ({"UID2_OPERATOR_IDENTITY_SCOPE": "UID3"}, "UID2_OPERATOR_IDENTITY_SCOPE"),
        ({"UID2_OPERATOR_REFRESH_TOKEN_EXPIRES_AFTER_SECONDS": "10"}, "UID2_OPERATOR_"),
        ({"UID2_OPERATOR_MAX_BIDSTREAM_LIFETIME_SECONDS": "10"}, "UID2_OPERATOR_MAX_BIDSTREAM"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_require_servable_passes_for_the_world(world: World) -> None:
    require_servable(
        build_snapshot(world.plane, InMemorySnapshotSource(world.plane).optouts), world.now_ms
    )
