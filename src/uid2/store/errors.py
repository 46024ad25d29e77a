"""The store's one error type.

::

    StoreError(code)        every failure the store reports on purpose carries a StoreErrorCode

SQLAlchemy exceptions that mean "the data broke a rule" (unique name, ...) are mapped in
:mod:`uid2.store.uow`; messages never contain a secret.
"""

from __future__ import annotations

from enum import Enum


class StoreErrorCode(Enum):
    NOT_INITIALIZED = "not_initialized"
    SCHEMA_OUTDATED = "schema_outdated"
    KEK_MISSING = "kek_missing"
    KEK_INVALID = "kek_invalid"
    KEK_MISMATCH = "kek_mismatch"
    SECRET_UNREADABLE = "secret_unreadable"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"
    BAD_URL = "bad_url"


class StoreError(Exception):
    def __init__(self, code: StoreErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)
