"""Encryption keys and the keyring an SDK holds after a key refresh.

Times in key JSON are epoch **seconds** (sdk.md §4.3); ``now`` arguments here are epoch
**milliseconds**, like every timestamp inside a token.

Selection rule (operator.md §4.4, fixing sdk.md §4.4/§11.6): the active key of a keyset is the
one with the latest ``activates <= now`` that has not expired; among equal ``activates`` the
later one in list order wins. The order of the JSON does not matter.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from uid2.core.enums import IdentityScope

DEFAULT_ALLOW_CLOCK_SKEW_SECONDS = 1800
MASTER_KEYSET_ID_FOR_SDKS = 9999999


@dataclass(frozen=True, slots=True)
class Key:
    key_id: int
    secret: bytes = field(repr=False)
    created: int  # epoch seconds
    activates: int
    expires: int
    site_id: int = -1
    keyset_id: int | None = None

    def is_active(self, now_ms: int) -> bool:
        """``activates <= now < expires`` (activation inclusive, expiry exclusive)."""
        return self.activates * 1000 <= now_ms < self.expires * 1000


def _sorted_by_activation(keys: Iterable[Key]) -> tuple[Key, ...]:
    return tuple(sorted(keys, key=lambda k: k.activates))  # stable: ties keep list order


def _index(keys: Iterable[Key], attr: str) -> Mapping[int, tuple[Key, ...]]:
    groups: dict[int, list[Key]] = {}
    for key in keys:
        group_id = getattr(key, attr)
        if group_id is not None:
            groups.setdefault(group_id, []).append(key)
    return MappingProxyType({gid: _sorted_by_activation(ks) for gid, ks in groups.items()})


def _events(keys: tuple[Key, ...]) -> tuple[int, ...]:
    """Every time (ms) at which the active key of this group can change."""
    return tuple(sorted({t * 1000 for k in keys for t in (k.activates, k.expires)}))


def pick_active(candidates: tuple[Key, ...], now_ms: int) -> Key | None:
    """Latest-activating key with ``activates <= now`` that is not expired."""
    pos = bisect.bisect_right(candidates, now_ms, key=lambda k: k.activates * 1000)
    for i in range(pos - 1, -1, -1):
        if now_ms < candidates[i].expires * 1000:
            return candidates[i]
    return None


@dataclass(frozen=True, slots=True)
class Keyring:
    """An immutable snapshot of keys plus the header fields of a key response.

    Build it with :func:`make_keyring`, which precomputes the indexes.
    """

    keys: Mapping[int, Key]
    identity_scope: IdentityScope = IdentityScope.UID2
    caller_site_id: int | None = None
    master_keyset_id: int | None = None
    default_keyset_id: int | None = None
    token_expiry_seconds: int | None = None
    max_sharing_lifetime_seconds: int | None = None
    max_bidstream_lifetime_seconds: int | None = None
    allow_clock_skew_seconds: int = DEFAULT_ALLOW_CLOCK_SKEW_SECONDS
    # site id -> lower-cased domain names (and app names) allowed for client-side tokens
    site_data: Mapping[int, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    by_keyset: Mapping[int, tuple[Key, ...]] = field(default_factory=dict, repr=False)
    by_site: Mapping[int, tuple[Key, ...]] = field(default_factory=dict, repr=False)
    latest_expiry_ms: int = field(default=-1, repr=False)
    # keyset id -> (valid from, valid until, active key): the choice only changes when a key
    # of the keyset activates or expires, so it is kept until ``now`` leaves that window.
    _active_cache: dict[int, tuple[int, int, Key | None]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def get(self, key_id: int) -> Key | None:
        return self.keys.get(key_id)

    def is_valid(self, now_ms: int) -> bool:
        """True if some key has not expired yet (the SDK's ``valid(now)``)."""
        return self.latest_expiry_ms > now_ms

    def active_keyset_key(self, keyset_id: int, now_ms: int) -> Key | None:
        cached = self._active_cache.get(keyset_id)
        if cached is not None and cached[0] <= now_ms < cached[1]:
            return cached[2]
        candidates = self.by_keyset.get(keyset_id, ())
        key = pick_active(candidates, now_ms)
        events = _events(candidates)
        at = bisect.bisect_right(events, now_ms)
        start = events[at - 1] if at else -(2**63)
        end = events[at] if at < len(events) else 2**63
        self._active_cache[keyset_id] = (start, end, key)
        return key

    def active_site_key(self, site_id: int, now_ms: int) -> Key | None:
        return pick_active(self.by_site.get(site_id, ()), now_ms)

    def master_key(self, now_ms: int) -> Key | None:
        if self.master_keyset_id is None:
            return None
        return self.active_keyset_key(self.master_keyset_id, now_ms)

    def default_keyset_key(self, now_ms: int) -> Key | None:
        if self.default_keyset_id is None:
            return None
        return self.active_keyset_key(self.default_keyset_id, now_ms)


def make_keyring(
    keys: Iterable[Key],
    *,
    identity_scope: IdentityScope = IdentityScope.UID2,
    caller_site_id: int | None = None,
    master_keyset_id: int | None = None,
    default_keyset_id: int | None = None,
    token_expiry_seconds: int | None = None,
    max_sharing_lifetime_seconds: int | None = None,
    max_bidstream_lifetime_seconds: int | None = None,
    allow_clock_skew_seconds: int = DEFAULT_ALLOW_CLOCK_SKEW_SECONDS,
    site_data: Mapping[int, frozenset[str]] | None = None,
) -> Keyring:
    """Build a :class:`Keyring` from keys and the header fields of a key response."""
    key_list = list(keys)
    return Keyring(
        keys=MappingProxyType({k.key_id: k for k in key_list}),
        identity_scope=identity_scope,
        caller_site_id=caller_site_id,
        master_keyset_id=master_keyset_id,
        default_keyset_id=default_keyset_id,
        token_expiry_seconds=token_expiry_seconds,
        max_sharing_lifetime_seconds=max_sharing_lifetime_seconds,
        max_bidstream_lifetime_seconds=max_bidstream_lifetime_seconds,
        allow_clock_skew_seconds=allow_clock_skew_seconds,
        site_data=MappingProxyType(dict(site_data or {})),
        by_keyset=_index(key_list, "keyset_id"),
        by_site=_index((k for k in key_list if k.site_id > 0), "site_id"),
        latest_expiry_ms=max((k.expires * 1000 for k in key_list), default=-1),
    )
