"""A small control plane for operator tests: sites, keys, API keys per role, 64 salt buckets.

Shared by the unit tests (in-process ASGI) and the e2e tests (real uvicorn), which put this
directory on ``sys.path``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.applications import Starlette

with warnings.catch_warnings():  # starlette asks for httpx2; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from uid2.core.cstg import keypair_from_random
from uid2.core.encoding import b64encode
from uid2.core.enums import IdentityScope
from uid2.core.envelope import open_response, seal_request
from uid2.operator.app import create_app
from uid2.operator.holder import InMemorySnapshotSource
from uid2.operator.settings import Settings
from uid2.operator.snapshot import ControlPlane
from uid2.store.records import (
    ApiKey,
    CstgKeypair,
    Keyset,
    KeysetKey,
    ParticipantType,
    Role,
    SaltBucket,
    SaltConfig,
    Site,
)

DAY_S = 86_400
FIRST_LEVEL_SALT = "fOGY/aRE44peL23i+cE9MkJrzmEeNZZziNZBfq7qqk8="
BUCKETS = 64
PUBLISHER, DSP, ADVERTISER, SHARER, OTHER_PUBLISHER, OPTOUT_SITE = 101, 102, 103, 104, 105, 106
# API key names -> (site, roles)
API_KEYS: dict[str, tuple[int, frozenset[Role]]] = {
    "generator": (PUBLISHER, frozenset({Role.GENERATOR})),
    "other_generator": (OTHER_PUBLISHER, frozenset({Role.GENERATOR})),
    "dsp": (DSP, frozenset({Role.ID_READER})),
    "mapper": (ADVERTISER, frozenset({Role.MAPPER})),
    "sharer": (SHARER, frozenset({Role.SHARER})),
    "sharer_reader": (SHARER, frozenset({Role.SHARER, Role.ID_READER})),
    "optout": (OPTOUT_SITE, frozenset({Role.OPTOUT})),
    "fallback_reader": (2, frozenset({Role.ID_READER})),
    "all": (PUBLISHER, frozenset(Role)),
}
ROLE_KEYS = {role: f"role_{role.value.lower()}" for role in Role}
for _role, _name in ROLE_KEYS.items():
    API_KEYS[_name] = (OTHER_PUBLISHER, frozenset({_role}))


def _secret(label: str, size: int = 32) -> bytes:
    return hashlib.sha256(label.encode()).digest()[:size]


def _api_key(
    name: str, site_id: int, roles: frozenset[Role], disabled: bool = False
) -> tuple[str, ApiKey]:
    body = b64encode(_secret("key:" + name))
    key = f"UID2-C-L-{site_id}-{body[:6]}.{body[6:]}"
    salt = _secret("salt:" + name)
    record = ApiKey(
        key_id=key[: key.index(".") - 1],
        site_id=site_id,
        key_hash=b64encode(hashlib.sha512(salt + key.encode()).digest()),
        key_salt=b64encode(salt),
        secret=_secret("secret:" + name),
        roles=roles,
        name=name,
        contact=f"{name}@example.com",
        created_s=0,
        disabled=disabled,
    )
    return key, record


@dataclass
class World:
    now_s: int
    scope: IdentityScope = IdentityScope.UID2
    keys: dict[str, str] = field(default_factory=dict)  # name -> raw API key
    secrets: dict[str, bytes] = field(default_factory=dict)  # name -> client secret
    cstg_public_key: str = ""
    cstg_subscription_id: str = "Sub1234567"
    plane: ControlPlane = field(default=None)  # type: ignore[assignment]

    @property
    def now_ms(self) -> int:
        return self.now_s * 1000

    def settings(self, **overrides: Any) -> Settings:
        base: dict[str, Any] = {"identity_scope": self.scope, "poll_interval_seconds": 3600}
        base.update(overrides)
        return Settings(**base)


def _keysets() -> list[Keyset]:
    def ks(
        keyset_id: int,
        site: int,
        allowed: frozenset[int] | None,
        default: bool = True,
        enabled: bool = True,
    ) -> Keyset:
        return Keyset(keyset_id, site, f"ks{keyset_id}", allowed, frozenset(), default, enabled, 0)

    return [
        ks(-1, -1, None, default=False),
        ks(-2, -2, None, default=False),
        ks(2, 2, None),
        ks(10, PUBLISHER, None),
        ks(11, SHARER, frozenset()),
        ks(12, OTHER_PUBLISHER, frozenset({SHARER})),
        ks(13, OTHER_PUBLISHER, frozenset({SHARER}), default=False, enabled=False),
        ks(14, OTHER_PUBLISHER, frozenset({OPTOUT_SITE}), default=False),
        ks(15, OTHER_PUBLISHER, frozenset(), default=False),
    ]


def _keyset_keys(now_s: int) -> list[KeysetKey]:
    ids = itertools.count(1001)

    def key(keyset_id: int, activates: int, expires: int) -> KeysetKey:
        key_id = next(ids)
        return KeysetKey(key_id, keyset_id, _secret(f"k{key_id}"), activates, activates, expires)

    keys = [
        key(ks, now_s - DAY_S, now_s + 30 * DAY_S) for ks in (-1, -2, 2, 10, 11, 12, 13, 14, 15)
    ]
    keys.append(key(10, now_s - 60 * DAY_S, now_s - 30 * DAY_S))  # expired, still published
    keys.append(key(10, now_s + DAY_S, now_s + 60 * DAY_S))  # not active yet, still published
    return keys


def salt_buckets(now_ms: int, *, salt_label: str = "salt") -> list[SaltBucket]:
    buckets = []
    for i in range(BUCKETS):
        previous = b64encode(_secret(f"prev{i}")) if i % 2 == 0 else None
        buckets.append(
            SaltBucket(
                index=i,
                bucket_id=f"b{i:09d}",
                current_salt=b64encode(_secret(f"{salt_label}{i}")),
                previous_salt=previous,
                last_updated_ms=now_ms - (10 if i % 4 == 0 else 100) * DAY_S * 1000,
                refresh_from_ms=now_ms + (DAY_S * 1000 if i % 3 else -DAY_S * 1000),
            )
        )
    return buckets


def make_world(now_s: int | None = None, scope: IdentityScope = IdentityScope.UID2) -> World:
    now_s = now_s if now_s is not None else 1_750_000_000
    world = World(now_s=now_s, scope=scope)
    records = []
    for name, (site_id, roles) in API_KEYS.items():
        key, record = _api_key(name, site_id, roles)
        world.keys[name], world.secrets[name] = key, record.secret
        records.append(record)
    key, record = _api_key("disabled", PUBLISHER, frozenset(Role), disabled=True)
    world.keys["disabled"], world.secrets["disabled"] = key, record.secret
    records.append(record)
    pair = keypair_from_random(_secret("cstg", 32) + _secret("cstg2", 8), scope=scope)
    disabled_pair = keypair_from_random(_secret("cstg-off", 32) + _secret("x", 8), scope=scope)
    world.cstg_public_key = pair.public_key
    world.plane = ControlPlane(
        identity_scope=scope,
        sites=tuple(_sites()),
        api_keys=tuple(records),
        keysets=tuple(_keysets()),
        keyset_keys=tuple(_keyset_keys(now_s)),
        salt_config=SaltConfig(
            FIRST_LEVEL_SALT, "b", "HF6Qz42HBbVHINxhh191dB09BCuTWyBkNtrNicO4ZCw=", BUCKETS
        ),
        salt_buckets=tuple(salt_buckets(world.now_ms)),
        cstg_keypairs=(
            CstgKeypair(
                world.cstg_subscription_id,
                PUBLISHER,
                pair.public_key,
                pair.private_key,
                "p",
                "c",
                0,
                False,
            ),
            CstgKeypair(
                "Disabled12",
                PUBLISHER,
                disabled_pair.public_key,
                disabled_pair.private_key,
                "d",
                "c",
                0,
                True,
            ),
        ),
    )
    return world


def _sites() -> list[Site]:
    def site(
        site_id: int,
        kind: ParticipantType,
        domains: tuple[str, ...] = (),
        apps: tuple[str, ...] = (),
    ) -> Site:
        return Site(site_id, f"site{site_id}", frozenset({kind}), domains, apps, True, 0)

    return [
        site(2, ParticipantType.PUBLISHER),
        site(
            PUBLISHER,
            ParticipantType.PUBLISHER,
            ("example.com", "cstg.co.uk", "localhost"),
            ("com.example.App",),
        ),
        site(DSP, ParticipantType.DSP),
        site(ADVERTISER, ParticipantType.ADVERTISER),
        site(SHARER, ParticipantType.DATA_PROVIDER),
        site(OTHER_PUBLISHER, ParticipantType.PUBLISHER, ("other.com",)),
        site(OPTOUT_SITE, ParticipantType.PUBLISHER),
    ]


class RecordingSink:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes, int]] = []

    def record(self, first_level_hash: bytes, raw_uid: bytes, now_ms: int) -> None:
        self.records.append((first_level_hash, raw_uid, now_ms))


def build_app(
    world: World, settings: Settings | None = None, **kwargs: Any
) -> tuple[Starlette, InMemorySnapshotSource]:
    source = InMemorySnapshotSource(world.plane)
    kwargs.setdefault("clock_ms", lambda: world.now_ms)
    app = create_app(settings or world.settings(), source, **kwargs)
    return app, source


class Caller:
    """Posts v2 envelopes as one API key and opens the answers."""

    def __init__(self, client: TestClient, world: World, name: str) -> None:
        self.client, self.world, self.name = client, world, name
        self.key, self.secret = world.keys[name], world.secrets[name]

    def envelope(
        self, payload: object | None, *, now_ms: int | None = None, nonce: bytes | None = None
    ) -> bytes:
        import json

        data = (
            None
            if payload is None
            else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        )
        return seal_request(
            self.secret,
            data,
            now_ms=now_ms or self.world.now_ms,
            nonce=nonce or os.urandom(8),
            iv=os.urandom(12),
        )

    def post(
        self, path: str, payload: object | None = None, *, binary: bool = False, **kw: Any
    ) -> Any:
        nonce = os.urandom(8)
        raw = self.envelope(payload, nonce=nonce, now_ms=kw.pop("now_ms", None))
        content = raw if binary else base64.b64encode(raw)
        headers = {"Authorization": f"Bearer {self.key}"}
        headers["Content-Type"] = "application/octet-stream" if binary else "text/plain"
        headers.update(kw.pop("headers", {}))
        response = self.client.post(path, content=content, headers=headers)
        response.nonce = nonce  # type: ignore[attr-defined]
        return response

    def call(self, path: str, payload: object | None = None, *, binary: bool = False) -> Any:
        """POST and return the decrypted JSON of a 200 answer."""
        import json

        response = self.post(path, payload, binary=binary)
        assert response.status_code == 200, (response.status_code, response.text)
        return json.loads(
            open_response(
                self.secret,
                response.content if binary else response.text,
                nonce=response.nonce,
                binary=binary,
            )
        )


def with_plane(world: World, **changes: Any) -> World:
    return replace(world, plane=replace(world.plane, **changes))


def expected_flh(dii_hash: bytes) -> bytes:
    from uid2.core.rawuid import first_level_hash

    return first_level_hash(dii_hash, FIRST_LEVEL_SALT)


def expected_raw_uid(
    world: World, dii_hash: bytes, *, phone: bool = False, v3: bool = False
) -> bytes:
    from uid2.core.enums import IdentityType
    from uid2.core.rawuid import bucket_index, raw_uid_v2, raw_uid_v3

    flh = expected_flh(dii_hash)
    salt = world.plane.salt_buckets[bucket_index(flh, BUCKETS)].current_salt
    if v3:
        kind = IdentityType.Phone if phone else IdentityType.Email
        return raw_uid_v3(flh, salt, world.scope, kind)
    return raw_uid_v2(flh, salt)
