"""Recording an opt-out: an append-only row keyed on the first-level hash (operator.md §6).

The raw UID stored beside it is the one current at opt-out time (v2 for UID2, v3 for EUID),
which ``/v2/optout/status`` looks up.
"""

from __future__ import annotations

from dataclasses import dataclass

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.lookups import require_info
from uid2.admin.webhooks import enqueue_deliveries
from uid2.core.dii import normalize_and_hash_email, normalize_and_hash_phone
from uid2.core.encoding import b64decode_strict
from uid2.core.enums import IdentityScope, IdentityType
from uid2.core.rawuid import bucket_index, first_level_hash, raw_uid_v2, raw_uid_v3
from uid2.store.records import StoreName
from uid2.store.uow import SqlAlchemyUnitOfWork


@dataclass(frozen=True, slots=True)
class RecordOptOut:
    identity_type: IdentityType
    value: str  # an email address or a phone number, as typed


@dataclass(frozen=True, slots=True)
class OptOutRecorded:
    seq: int
    created_s: int


def dii_hash(cmd: RecordOptOut) -> bytes:
    try:
        if cmd.identity_type is IdentityType.Email:
            hashed = normalize_and_hash_email(cmd.value)
        else:
            hashed = normalize_and_hash_phone(cmd.value)
    except ValueError as error:
        raise AdminError(AdminErrorCode.BAD_IDENTITY, str(error)) from None
    raw = b64decode_strict(hashed)
    assert raw is not None
    return raw


def record_optout(cmd: RecordOptOut, uow: SqlAlchemyUnitOfWork, ctx: Context) -> OptOutRecorded:
    hashed = dii_hash(cmd)
    with uow:
        info = require_info(uow)
        config = uow.salts.get_config()
        if config is None:
            raise AdminError(AdminErrorCode.NOT_INITIALIZED, "the store has no salts; run init")
        flh = first_level_hash(hashed, config.first_level_salt)
        bucket = uow.salts.get_bucket(bucket_index(flh, config.bucket_count))
        if bucket is None:
            raise AdminError(AdminErrorCode.NOT_INITIALIZED, "the salt buckets are incomplete")
        salt = bucket.current_salt
        if info.identity_scope is IdentityScope.EUID:
            advertising_id = raw_uid_v3(flh, salt, info.identity_scope, cmd.identity_type)
        else:
            advertising_id = raw_uid_v2(flh, salt)
        seq = uow.optouts.add(flh, advertising_id, ctx.now_s)
        enqueue_deliveries(uow, seq, ctx.now_ms)  # same transaction: no opt-out without them
        details = {"seq": seq, "identity_type": cmd.identity_type.name}
        journal(uow, ctx, "optout.add", f"optout:{seq}", details, [StoreName.OPTOUTS])
        uow.commit()
    return OptOutRecorded(seq, ctx.now_s)
