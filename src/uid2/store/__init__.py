"""uid2.store: the control-plane database (SQLAlchemy 2 + Alembic).

Imports only ``uid2.core`` (plus SQLAlchemy, Alembic). Values live in :mod:`.records`, the
schema in :mod:`.schema`, transactions in :mod:`.uow`, secrets at rest in :mod:`.secrets`.
"""

from uid2.store.database import (
    current_revision as current_revision,
)
from uid2.store.database import (
    head_revision as head_revision,
)
from uid2.store.database import (
    make_engine as make_engine,
)
from uid2.store.database import (
    require_current_schema as require_current_schema,
)
from uid2.store.database import (
    sqlite_url as sqlite_url,
)
from uid2.store.database import (
    upgrade_schema as upgrade_schema,
)
from uid2.store.errors import StoreError as StoreError
from uid2.store.errors import StoreErrorCode as StoreErrorCode
from uid2.store.secrets import SecretBox as SecretBox
from uid2.store.uow import SqlAlchemyUnitOfWork as SqlAlchemyUnitOfWork

__all__ = [
    "SecretBox",
    "SqlAlchemyUnitOfWork",
    "StoreError",
    "StoreErrorCode",
    "current_revision",
    "head_revision",
    "make_engine",
    "require_current_schema",
    "sqlite_url",
    "upgrade_schema",
]
