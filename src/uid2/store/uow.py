"""The unit of work: one transaction, its repositories, and the writer lock.

``with SqlAlchemyUnitOfWork(engine, box) as uow: ...; uow.commit()`` — leaving the block
without ``commit()`` rolls back.

Writers are serialised per database: on PostgreSQL the transaction takes
``pg_advisory_xact_lock`` (released at commit or rollback), on SQLite the engine begins with
``BEGIN IMMEDIATE`` (see :mod:`uid2.store.database`). Rotations therefore read and write under
one lock, so two processes rotating at once produce one rotation. ``read_only=True``
(listings, operators polling) takes no lock and, on PostgreSQL, a READ ONLY transaction.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, RootTransaction, exc, text

from uid2.core.cstg import KeyEnvironment
from uid2.core.enums import IdentityScope
from uid2.store.database import READ_ONLY_FLAG, is_postgresql
from uid2.store.errors import StoreError, StoreErrorCode
from uid2.store.records import StoreInfo
from uid2.store.rekey import reseal_all
from uid2.store.repos_keys import (
    SqlAlchemyKeysetKeyRepository,
    SqlAlchemyKeysetRepository,
    SqlAlchemySaltRepository,
)
from uid2.store.repos_log import (
    SqlAlchemyAuditRepository,
    SqlAlchemyMetaRepository,
    SqlAlchemyOptOutRepository,
    SqlAlchemyStoreVersionRepository,
)
from uid2.store.repos_participants import (
    SqlAlchemyApiKeyRepository,
    SqlAlchemyCstgKeypairRepository,
    SqlAlchemySiteRepository,
)
from uid2.store.repos_portal import (
    SqlAlchemyMembershipRepository,
    SqlAlchemyOneTimeTokenRepository,
    SqlAlchemySessionRepository,
    SqlAlchemyUserRepository,
)
from uid2.store.repos_webhooks import (
    SqlAlchemyWebhookDeliveryRepository,
    SqlAlchemyWebhookRepository,
)
from uid2.store.secrets import SecretBox

WRITER_LOCK_ID = 0x55494432  # "UID2": one advisory lock for every control-plane writer
META_SCOPE = "identity_scope"
META_ENVIRONMENT = "key_environment"
META_KEK_CHECK = "kek_check"


class SqlAlchemyUnitOfWork:
    sites: SqlAlchemySiteRepository
    api_keys: SqlAlchemyApiKeyRepository
    cstg_keypairs: SqlAlchemyCstgKeypairRepository
    keysets: SqlAlchemyKeysetRepository
    keyset_keys: SqlAlchemyKeysetKeyRepository
    salts: SqlAlchemySaltRepository
    optouts: SqlAlchemyOptOutRepository
    audit: SqlAlchemyAuditRepository
    versions: SqlAlchemyStoreVersionRepository
    meta: SqlAlchemyMetaRepository
    users: SqlAlchemyUserRepository
    memberships: SqlAlchemyMembershipRepository
    sessions: SqlAlchemySessionRepository
    one_time_tokens: SqlAlchemyOneTimeTokenRepository
    webhooks: SqlAlchemyWebhookRepository
    webhook_deliveries: SqlAlchemyWebhookDeliveryRepository

    def __init__(
        self, engine: Engine, box: SecretBox | None = None, *, read_only: bool = False
    ) -> None:
        self._engine = engine
        self._box = box
        self._read_only = read_only
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None

    def __enter__(self) -> Self:
        try:
            self._connection = self._engine.connect()
            self._connection.info[READ_ONLY_FLAG] = self._read_only
            self._transaction = self._connection.begin()
            self._start_transaction(self._connection)
        except exc.OperationalError as error:
            self._close()
            raise StoreError(StoreErrorCode.UNAVAILABLE, "cannot open the database") from error
        self._bind_repositories(self._connection)
        self._verify_kek()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()
        # Driver messages can quote row values: name only the kind of failure.
        if isinstance(exc_value, exc.IntegrityError):
            raise StoreError(
                StoreErrorCode.CONFLICT, "the change conflicts with stored data"
            ) from None
        if isinstance(exc_value, exc.OperationalError):
            raise StoreError(
                StoreErrorCode.UNAVAILABLE, "the database is busy or unreachable"
            ) from None

    def _start_transaction(self, connection: Connection) -> None:
        if not is_postgresql(self._engine):
            return  # SQLite: the engine's begin hook chose BEGIN or BEGIN IMMEDIATE
        if self._read_only:
            connection.execute(text("SET TRANSACTION READ ONLY"))
        else:
            lock = text("SELECT pg_advisory_xact_lock(:lock_id)")
            connection.execute(lock, {"lock_id": WRITER_LOCK_ID})

    def commit(self) -> None:
        assert self._transaction is not None, "commit() outside the with block"
        self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()

    def info(self) -> StoreInfo | None:
        scope = self.meta.get(META_SCOPE)
        environment = self.meta.get(META_ENVIRONMENT)
        if scope is None or environment is None:
            return None
        return StoreInfo(IdentityScope[scope], KeyEnvironment(environment))

    def set_info(self, info: StoreInfo) -> None:
        self.meta.set(META_SCOPE, info.identity_scope.name)
        self.meta.set(META_ENVIRONMENT, info.environment.value)
        if self._box is not None and self.meta.get(META_KEK_CHECK) is None:
            self.meta.set(META_KEK_CHECK, self._box.check_value())

    def rekey(self, new_box: SecretBox) -> int:
        """Re-encrypt every secret under ``new_box``; the caller commits."""
        assert self._connection is not None and self._box is not None
        count = reseal_all(self._connection, self._box, new_box)
        self.meta.set(META_KEK_CHECK, new_box.check_value())
        self._box = new_box
        self._bind_repositories(self._connection)
        return count

    def _bind_repositories(self, connection: Connection) -> None:
        self.sites = SqlAlchemySiteRepository(connection)
        self.api_keys = SqlAlchemyApiKeyRepository(connection, self._box)
        self.cstg_keypairs = SqlAlchemyCstgKeypairRepository(connection, self._box)
        self.keysets = SqlAlchemyKeysetRepository(connection)
        self.keyset_keys = SqlAlchemyKeysetKeyRepository(connection, self._box)
        self.salts = SqlAlchemySaltRepository(connection, self._box)
        self.optouts = SqlAlchemyOptOutRepository(connection)
        self.audit = SqlAlchemyAuditRepository(connection)
        self.versions = SqlAlchemyStoreVersionRepository(connection)
        self.meta = SqlAlchemyMetaRepository(connection)
        self.users = SqlAlchemyUserRepository(connection)
        self.memberships = SqlAlchemyMembershipRepository(connection)
        self.sessions = SqlAlchemySessionRepository(connection)
        self.one_time_tokens = SqlAlchemyOneTimeTokenRepository(connection)
        self.webhooks = SqlAlchemyWebhookRepository(connection)
        self.webhook_deliveries = SqlAlchemyWebhookDeliveryRepository(connection)

    def _verify_kek(self) -> None:
        if self._box is None:
            return  # a unit of work without the KEK opens no secret: nothing to check
        check = self.meta.get(META_KEK_CHECK)
        if check is not None and not self._box.matches(check):
            self._close()
            raise StoreError(
                StoreErrorCode.KEK_MISMATCH, "the KEK does not open this database's secrets"
            )

    def _close(self) -> None:
        self.rollback()
        if self._connection is not None:
            self._connection.close()
        self._connection = None
        self._transaction = None
