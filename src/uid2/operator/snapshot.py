"""The operator's in-memory view of the control plane; requests read only this.

A :class:`Snapshot` is built once from store records (:class:`ControlPlane`) and never changes;
the holder swaps a whole new one in when the store version moves. Indexes are precomputed so a
request does dictionary lookups only: API keys by key id, keys by id and by keyset, the default
keyset of each site, salts as parallel lists, CSTG keypairs by subscription id.

Two parts are shared between snapshots on purpose:

* :class:`OptOutIndex`, append-only, filled incrementally (opt-outs only ever grow, and copying
  millions of entries on every delta would cost more than it protects);
* small memo caches (verified API keys, ACL results, key-endpoint bodies), which belong to one
  snapshot and die with it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from uid2.admin.apikeys import api_key_matches
from uid2.admin.sharing import effective_allowed_sites
from uid2.core.cstg import parse_private_key_string
from uid2.core.dii import hash_dii
from uid2.core.encoding import b64encode
from uid2.core.enums import IdentityScope, IdentityType
from uid2.core.keys import Key, Keyring, make_keyring
from uid2.core.rawuid import first_level_hash
from uid2.store.records import (
    FALLBACK_PUBLISHER_KEYSET_ID,
    FALLBACK_PUBLISHER_SITE_ID,
    MASTER_KEYSET_ID,
    REFRESH_KEYSET_ID,
    ApiKey,
    CstgKeypair,
    Keyset,
    KeysetKey,
    OptOut,
    ParticipantType,
    SaltBucket,
    SaltConfig,
    Site,
)

T = TypeVar("T")
_API_KEY = re.compile(r"(?:UID2|EUID)-[CO]-[LTIP]-[0-9]+-.{6}\..{38}")
_KEY_ID = re.compile(r"(?:UID2|EUID)-[CO]-[LTIP]-[0-9]+-.{5}")  # the key id: prefix + 5 chars
_BEARER = "bearer "
FlhKey = tuple[IdentityType, bytes]


class SnapshotError(Exception):
    """The control plane cannot be served (no salts, no active master key, ...)."""


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """Everything a snapshot is built from, as store records (opt-outs load separately)."""

    identity_scope: IdentityScope
    sites: tuple[Site, ...] = ()
    api_keys: tuple[ApiKey, ...] = ()
    keysets: tuple[Keyset, ...] = ()
    keyset_keys: tuple[KeysetKey, ...] = ()
    salt_config: SaltConfig | None = None
    salt_buckets: tuple[SaltBucket, ...] = ()
    cstg_keypairs: tuple[CstgKeypair, ...] = ()


# ---------------------------------------------------------------------------- opt-outs


class OptOutIndex:
    """First-level hash -> earliest opt-out (s), and b64 raw UID -> earliest opt-out (s).

    Append-only and shared by successive snapshots; writers hold a lock, readers do one dict
    lookup (atomic in CPython).
    """

    def __init__(self) -> None:
        self._by_flh: dict[bytes, int] = {}
        self._by_raw_uid: dict[str, int] = {}
        self._lock = threading.Lock()
        self.last_seq = 0

    def add(self, records: Iterable[OptOut]) -> int:
        count = 0
        with self._lock:
            for record in records:
                _keep_earliest(self._by_flh, record.identity_hash, record.created_s)
                uid = b64encode(record.advertising_id)
                _keep_earliest(self._by_raw_uid, uid, record.created_s)
                self.last_seq = max(self.last_seq, record.seq)
                count += 1
        return count

    def flh_opted_out_since(self, flh: bytes) -> int | None:
        return self._by_flh.get(flh)

    def raw_uid_opted_out_since(self, raw_uid_b64: str) -> int | None:
        return self._by_raw_uid.get(raw_uid_b64)

    def __len__(self) -> int:
        return len(self._by_flh)


def _keep_earliest(index: dict[T, int], key: T, created_s: int) -> None:
    current = index.get(key)
    if current is None or created_s < current:
        index[key] = created_s


# ---------------------------------------------------------------------------- salts


@dataclass(frozen=True, slots=True)
class SaltTable:
    """Salt buckets as parallel lists indexed by bucket (operator.md §5.2)."""

    first_level_salt: str = field(repr=False)
    bucket_count: int
    current: tuple[str, ...] = field(repr=False)
    previous: tuple[str | None, ...] = field(repr=False)
    last_updated_ms: tuple[int, ...]
    refresh_from_ms: tuple[int, ...]
    bucket_ids: tuple[str, ...]

    @classmethod
    def build(cls, config: SaltConfig, buckets: Iterable[SaltBucket]) -> SaltTable:
        ordered = sorted(buckets, key=lambda b: b.index)
        if not ordered or [b.index for b in ordered] != list(range(len(ordered))):
            raise SnapshotError("the salt buckets are missing or incomplete; run `uid2 init`")
        return cls(
            first_level_salt=config.first_level_salt,
            bucket_count=len(ordered),
            current=tuple(b.current_salt for b in ordered),
            previous=tuple(b.previous_salt for b in ordered),
            last_updated_ms=tuple(b.last_updated_ms for b in ordered),
            refresh_from_ms=tuple(b.refresh_from_ms for b in ordered),
            bucket_ids=tuple(b.bucket_id for b in ordered),
        )


# ---------------------------------------------------------------------------- test identities

# operator.md §6.3: the code's phone numbers, not the docs' (which swap them).
_ALWAYS_OPTED_OUT = (
    ("optout@example.com", IdentityType.Email),
    ("+00000000000", IdentityType.Phone),
)
_REFRESH_OPTED_OUT = (
    ("refresh-optout@example.com", IdentityType.Email),
    ("+00000000002", IdentityType.Phone),
)
_VALIDATE = (("validate@example.com", IdentityType.Email), ("+12345678901", IdentityType.Phone))
_FLH_ALWAYS = bytes(32)  # operator.md §6.1 special hashes
_FLH_NEVER = b"\xff" * 32


def _flh_set(identities: Iterable[tuple[str, IdentityType]], salt: str) -> frozenset[FlhKey]:
    return frozenset((kind, first_level_hash(hash_dii(text), salt)) for text, kind in identities)


@dataclass(frozen=True, slots=True)
class TestIdentities:
    always: frozenset[FlhKey]
    on_refresh: frozenset[FlhKey]
    validate: frozenset[FlhKey]

    @classmethod
    def for_salt(cls, salt: str) -> TestIdentities:
        return cls(
            _flh_set(_ALWAYS_OPTED_OUT, salt),
            _flh_set(_REFRESH_OPTED_OUT, salt),
            _flh_set(_VALIDATE, salt),
        )


# ---------------------------------------------------------------------------- the snapshot


@dataclass(frozen=True, slots=True)
class Snapshot:
    identity_scope: IdentityScope
    keyring: Keyring = field(repr=False)
    keysets: Mapping[int, Keyset] = field(repr=False)
    default_keysets: Mapping[int, int] = field(repr=False)  # site id -> its default keyset id
    sites: Mapping[int, Site] = field(repr=False)
    salts: SaltTable = field(repr=False)
    optouts: OptOutIndex = field(repr=False)
    test_identities: TestIdentities = field(repr=False)
    api_keys: Mapping[str, ApiKey] = field(repr=False)  # by key id
    legacy_api_keys: tuple[ApiKey, ...] = field(repr=False)  # key ids of another format
    cstg_keypairs: Mapping[str, CstgKeypair] = field(repr=False)  # by subscription id
    shareable_keys: tuple[Key, ...] = field(repr=False)  # ACL candidates (§4.5 step 1)
    version: int = 0
    api_key_cache_size: int = 100_000
    _verified: dict[str, ApiKey] = field(default_factory=dict, repr=False)
    _memo: dict[object, object] = field(default_factory=dict, repr=False)
    _private_keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict, repr=False)

    # --- API keys (operator.md §1.2)

    def authenticate(self, authorization: str | None) -> ApiKey | None:
        """The enabled API key named by an ``Authorization: Bearer`` header, or None."""
        if not authorization:
            return None
        # Cached by the whole header value, so a repeat caller costs one dictionary lookup.
        record = self._verified.get(authorization)
        if record is None:
            key = _bearer_key(authorization)
            record = None if key is None else self._verify(key)
            if record is None:
                return None
            if len(self._verified) >= self.api_key_cache_size:
                self._verified.clear()
            self._verified[authorization] = record
        return None if record.disabled else record

    def _verify(self, key: str) -> ApiKey | None:
        if _API_KEY.fullmatch(key):
            record = self.api_keys.get(key[: key.index(".") - 1])
            candidates: Iterable[ApiKey] = () if record is None else (record,)
        else:
            # Keys of another format (imported from elsewhere): try each of their salts, as
            # upstream does. Only such records are tried, so garbage keys cost nothing here.
            candidates = self.legacy_api_keys
        for candidate in candidates:
            if api_key_matches(key, candidate):
                return candidate
        return None

    # --- keys (operator.md §3.6, §4.4)

    def master_key(self, now_ms: int) -> Key | None:
        return self.keyring.active_keyset_key(MASTER_KEYSET_ID, now_ms)

    def refresh_key(self, now_ms: int) -> Key | None:
        return self.keyring.active_keyset_key(REFRESH_KEYSET_ID, now_ms)

    def site_key(self, site_id: int, now_ms: int) -> Key | None:
        """The active key of the site's default keyset, else of the fallback publisher's."""
        keyset_id = self.default_keysets.get(site_id)
        if keyset_id is not None:
            key = self.keyring.active_keyset_key(keyset_id, now_ms)
            if key is not None:
                return key
        fallback = self.default_keysets.get(
            FALLBACK_PUBLISHER_SITE_ID, FALLBACK_PUBLISHER_KEYSET_ID
        )
        return self.keyring.active_keyset_key(fallback, now_ms)

    # --- CSTG keypairs

    def cstg_private_key(self, keypair: CstgKeypair) -> ec.EllipticCurvePrivateKey | None:
        key = self._private_keys.get(keypair.subscription_id)
        if key is None:
            try:
                key = parse_private_key_string(keypair.private_key)
            except ValueError:
                return None
            self._private_keys[keypair.subscription_id] = key
        return key

    # --- per-snapshot memo (ACL results, key bodies)

    def memo(self, key: object, build: Callable[[], T]) -> T:
        value = self._memo.get(key)
        if value is None:
            value = build()
            self._memo[key] = value
        return value  # type: ignore[return-value]


def _bearer_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    value = authorization.strip()
    if len(value) <= len(_BEARER) or value[: len(_BEARER)].lower() != _BEARER:
        return None
    key = value[len(_BEARER) :].strip()
    return key or None


# ---------------------------------------------------------------------------- building


def build_snapshot(
    plane: ControlPlane,
    optouts: OptOutIndex,
    *,
    version: int = 0,
    api_key_cache_size: int = 100_000,
    salts: SaltTable | None = None,
) -> Snapshot:
    """Index the records; raises :class:`SnapshotError` if there are no salts.

    ``salts`` reuses an already built table (salts are the bulk of a reload and change daily,
    while keys and clients change more often).
    """
    if salts is None:
        if plane.salt_config is None:
            raise SnapshotError("the store has no salts; run `uid2 init`")
        salts = SaltTable.build(plane.salt_config, plane.salt_buckets)
    keysets = {k.keyset_id: _with_type_grants(k, plane.sites) for k in plane.keysets}
    keys = [_core_key(k, keysets) for k in plane.keyset_keys if k.keyset_id in keysets]
    keyring = make_keyring(keys, identity_scope=plane.identity_scope)
    shareable = tuple(
        sorted((k for k in keys if k.keyset_id != REFRESH_KEYSET_ID), key=lambda k: k.key_id)
    )
    return Snapshot(
        identity_scope=plane.identity_scope,
        keyring=keyring,
        keysets=MappingProxyType(keysets),
        default_keysets=MappingProxyType(_default_keysets(plane.keysets)),
        sites=MappingProxyType({s.site_id: s for s in plane.sites}),
        salts=salts,
        optouts=optouts,
        test_identities=TestIdentities.for_salt(salts.first_level_salt),
        api_keys=MappingProxyType({k.key_id: k for k in plane.api_keys}),
        legacy_api_keys=tuple(k for k in plane.api_keys if not _KEY_ID.fullmatch(k.key_id)),
        cstg_keypairs=MappingProxyType({c.subscription_id: c for c in plane.cstg_keypairs}),
        shareable_keys=shareable,
        version=version,
        api_key_cache_size=api_key_cache_size,
    )


def _with_type_grants(keyset: Keyset, sites: Iterable[Site]) -> Keyset:
    """Type grants become sites, as upstream's ReplaceSharingTypesWithSitesJob (§4.5)."""
    if keyset.allowed_sites is None or not keyset.allowed_types:
        return keyset

    def sites_of_type(kind: ParticipantType) -> frozenset[int]:
        return frozenset(site.site_id for site in sites if kind in site.types)

    return replace(keyset, allowed_sites=effective_allowed_sites(keyset, sites_of_type))


def _core_key(record: KeysetKey, keysets: Mapping[int, Keyset]) -> Key:
    return Key(
        key_id=record.key_id,
        secret=record.secret,
        created=record.created_s,
        activates=record.activates_s,
        expires=record.expires_s,
        site_id=keysets[record.keyset_id].site_id,
        keyset_id=record.keyset_id,
    )


def _default_keysets(keysets: Iterable[Keyset]) -> dict[int, int]:
    # Upstream throws (500) when a site has two; we take the lowest id, deterministically.
    defaults: dict[int, int] = {}
    for keyset in sorted(keysets, key=lambda k: k.keyset_id, reverse=True):
        if keyset.enabled and keyset.is_default:
            defaults[keyset.site_id] = keyset.keyset_id
    return defaults


def require_servable(snapshot: Snapshot, now_ms: int) -> None:
    """Refuse to start without an active master key (operator.md §9.1)."""
    if snapshot.master_key(now_ms) is None:
        raise SnapshotError("no active master key (keyset -1); run `uid2 init` or rotate keys")
    if snapshot.refresh_key(now_ms) is None:
        raise SnapshotError("no active refresh key (keyset -2); run `uid2 init` or rotate keys")
