"""The snapshot source over the control-plane database (``uid2.store``).

``version()`` is one cheap read-only query (the sum of the per-store versions, each of which
only grows). ``load()`` reads what moved: opt-outs incrementally (rows after the last sequence
number seen, appended to the shared index), the salt table only when the salts changed, and
everything else (keys, keysets, clients, sites, CSTG keypairs) whole, since those are small.
When only opt-outs moved, the current snapshot is kept: the index it shares is already updated.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from uid2.admin.context import Context, journal, system_entropy
from uid2.admin.webhooks import enqueue_deliveries
from uid2.operator.snapshot import (
    ControlPlane,
    OptOutIndex,
    SaltTable,
    Snapshot,
    SnapshotError,
    build_snapshot,
)
from uid2.store.records import StoreName
from uid2.store.secrets import SecretBox
from uid2.store.uow import SqlAlchemyUnitOfWork

_NOT_OPTOUTS = frozenset(StoreName) - {StoreName.OPTOUTS}


class StoreSnapshotSource:
    def __init__(
        self, engine: Engine, box: SecretBox | None, *, api_key_cache_size: int = 100_000
    ) -> None:
        self._engine = engine
        self._box = box
        self._api_key_cache_size = api_key_cache_size
        self._optouts = OptOutIndex()
        self._lock = threading.Lock()
        self._versions: dict[StoreName, int] = {}
        self._salts: SaltTable | None = None
        self._snapshot: Snapshot | None = None

    @property
    def optouts(self) -> OptOutIndex:
        return self._optouts

    def version(self) -> int:
        with SqlAlchemyUnitOfWork(self._engine, self._box, read_only=True) as uow:
            return sum(uow.versions.get_all().values())

    def load(self) -> Snapshot:
        with self._lock, SqlAlchemyUnitOfWork(self._engine, self._box, read_only=True) as uow:
            versions = uow.versions.get_all()
            self._optouts.add(uow.optouts.list_since(self._optouts.last_seq))
            changed = {name for name in StoreName if versions.get(name) != self._versions.get(name)}
            if self._snapshot is not None and not changed & _NOT_OPTOUTS:
                self._versions = versions
                return self._snapshot
            info = uow.info()
            if info is None:
                raise SnapshotError("the store is not initialised; run `uid2 init`")
            if self._salts is None or StoreName.SALTS in changed:
                config = uow.salts.get_config()
                if config is None:
                    raise SnapshotError("the store has no salts; run `uid2 init`")
                self._salts = SaltTable.build(config, uow.salts.list_buckets())
            plane = ControlPlane(
                identity_scope=info.identity_scope,
                sites=tuple(uow.sites.list_all()),
                api_keys=tuple(uow.api_keys.list_all()),
                keysets=tuple(uow.keysets.list_all()),
                keyset_keys=tuple(uow.keyset_keys.list_all()),
                cstg_keypairs=tuple(uow.cstg_keypairs.list_all()),
            )
            self._snapshot = build_snapshot(
                plane,
                self._optouts,
                version=sum(versions.values()),
                api_key_cache_size=self._api_key_cache_size,
                salts=self._salts,
            )
            self._versions = versions
            return self._snapshot


class StoreOptOutSink:
    """``/v2/token/logout`` writes an opt-out row; operators pick it up on their next poll."""

    def __init__(self, engine: Engine, box: SecretBox | None) -> None:
        self._engine = engine
        self._box = box

    def record(self, first_level_hash: bytes, raw_uid: bytes, now_ms: int) -> None:
        ctx = Context(now_ms=now_ms, actor="operator:logout", entropy=system_entropy())
        with SqlAlchemyUnitOfWork(self._engine, self._box) as uow:
            seq = uow.optouts.add(first_level_hash, raw_uid, now_ms // 1000)
            enqueue_deliveries(uow, seq, now_ms)  # the webhook outbox, in the same transaction
            details = {"seq": seq, "source": "/v2/token/logout"}
            journal(uow, ctx, "optout.add", f"optout:{seq}", details, [StoreName.OPTOUTS])
            uow.commit()
