"""Re-encrypting every stored secret under a new key-encryption key."""

from __future__ import annotations

from dataclasses import dataclass

from uid2.admin.context import Context, journal
from uid2.store.records import StoreName
from uid2.store.secrets import SecretBox
from uid2.store.uow import SqlAlchemyUnitOfWork

_SEALED_STORES = (
    StoreName.CLIENT_KEYS,
    StoreName.KEYSET_KEYS,
    StoreName.SALTS,
    StoreName.CLIENT_SIDE_KEYPAIRS,
)


@dataclass(frozen=True, slots=True)
class KekRotated:
    resealed: int


def rotate_kek(new_box: SecretBox, uow: SqlAlchemyUnitOfWork, ctx: Context) -> KekRotated:
    """Open every secret with the unit of work's KEK and seal it with ``new_box``."""
    with uow:
        count = uow.rekey(new_box)
        journal(uow, ctx, "kek.rotate", "store", {"resealed": count}, _SEALED_STORES)
        uow.commit()
    return KekRotated(count)
