"""What every use case receives besides its command: the time, the actor and randomness.

Use cases never read the clock or ``os.urandom`` themselves, so tests fix both.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from uid2.store.records import AuditEntry, StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork

MS_PER_S = 1000


@dataclass(frozen=True, slots=True)
class Entropy:
    token_bytes: Callable[[int], bytes]
    random_below: Callable[[int], int]


def system_entropy() -> Entropy:
    return Entropy(token_bytes=secrets.token_bytes, random_below=secrets.randbelow)


@dataclass(frozen=True, slots=True)
class Context:
    now_ms: int
    actor: str
    entropy: Entropy

    @property
    def now_s(self) -> int:
        return self.now_ms // MS_PER_S


def journal(
    uow: SqlAlchemyUnitOfWork,
    ctx: Context,
    action: str,
    target: str,
    details: Mapping[str, object],
    stores: Iterable[StoreName],
    *,
    site_id: int | None = None,
) -> None:
    """Write the audit row and bump the versions of ``stores``: the tail of every write.

    ``site_id`` names the participant the change concerns, whose own audit trail shows it.
    """
    text = json.dumps(details, sort_keys=True, separators=(",", ":"))
    uow.audit.add(AuditEntry(ctx.now_ms, ctx.actor, action, target, text, site_id))
    uow.versions.bump(stores, ctx.now_ms)
