"""The portal's one error type, and the mapping from the layers below.

::

    PortalError(status, message, field)   refused: an HTTP status, one line for the user,
                                          and the form field it concerns (None: the whole form)

Admin and store errors are mapped here, at one seam; their messages never hold a secret.
A database that cannot be reached is one answer wherever it shows up (:func:`as_refusal`):
503, "temporarily unavailable, nothing was changed, try again".
"""

from __future__ import annotations

from sqlalchemy import exc

from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.store.errors import StoreError, StoreErrorCode

UNAVAILABLE_MESSAGE = (
    "The service is temporarily unavailable: nothing was changed. Please try again in a moment."
)
# Failures of the connection, not of the request: the database is down, unreachable or full.
# Other DBAPIErrors (IntegrityError, ProgrammingError, ...) are bugs unless they broke the
# connection, and stay a 500.
_CONNECTION_FAILURES: tuple[type[Exception], ...] = (
    exc.OperationalError,  # cannot connect, server closed the connection, lock timeout
    exc.InterfaceError,  # the driver's connection is already closed
    exc.DisconnectionError,
    exc.TimeoutError,  # no pooled connection free in time
    exc.PendingRollbackError,  # a connection that broke inside a transaction
)

_ADMIN: dict[AdminErrorCode, tuple[int, str | None]] = {
    AdminErrorCode.NOT_INITIALIZED: (503, None),
    AdminErrorCode.SCOPE_MISMATCH: (409, None),
    AdminErrorCode.BAD_ARGUMENT: (400, None),
    AdminErrorCode.BAD_NAME: (400, "name"),
    AdminErrorCode.DUPLICATE_NAME: (409, "name"),
    AdminErrorCode.UNKNOWN_SITE: (404, None),
    AdminErrorCode.UNKNOWN_ROLE: (400, "roles"),
    AdminErrorCode.UNKNOWN_TYPE: (400, "types"),
    AdminErrorCode.BAD_DOMAIN: (400, "domains"),
    AdminErrorCode.BAD_APP_NAME: (400, "app_names"),
    AdminErrorCode.UNKNOWN_API_KEY: (404, None),
    AdminErrorCode.UNKNOWN_KEYPAIR: (404, None),
    AdminErrorCode.NO_KEYSET: (409, None),
    AdminErrorCode.BAD_IDENTITY: (400, "identity"),
    AdminErrorCode.BAD_EMAIL: (400, "email"),
    AdminErrorCode.BAD_PASSWORD: (400, "password"),
    AdminErrorCode.BAD_CREDENTIALS: (401, None),
    AdminErrorCode.LOCKED_OUT: (429, None),
    AdminErrorCode.BAD_LINK: (400, None),
    AdminErrorCode.UNKNOWN_USER: (404, None),
    AdminErrorCode.ALREADY_MEMBER: (409, "email"),
    AdminErrorCode.NOT_ALLOWED: (409, None),
}
_STORE: dict[StoreErrorCode, int] = {
    StoreErrorCode.CONFLICT: 409,
    StoreErrorCode.UNAVAILABLE: 503,
}


class PortalError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        super().__init__(message)

    @classmethod
    def from_admin(cls, error: AdminError) -> PortalError:
        status, field = _ADMIN.get(error.code, (400, None))
        return cls(status, error.message, field)

    @classmethod
    def from_store(cls, error: StoreError) -> PortalError:
        if error.code is StoreErrorCode.UNAVAILABLE:
            return unavailable()
        status = _STORE.get(error.code, 503)
        return cls(status, error.message)


def unavailable() -> PortalError:
    return PortalError(503, UNAVAILABLE_MESSAGE)


def as_refusal(error: Exception) -> PortalError | None:
    """What to answer for an exception no handler caught; None: a bug (a plain 500).

    Refusals raised outside a handler's own ``try`` (the session lookup every page starts
    with) keep their status; failures to reach the database become :func:`unavailable`.
    """
    if isinstance(error, PortalError):
        return error
    if isinstance(error, StoreError):
        return PortalError.from_store(error)
    if isinstance(error, _CONNECTION_FAILURES):
        return unavailable()
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return unavailable()
    return None


# the exception types whose instances :func:`as_refusal` may answer for
UNCAUGHT_REFUSALS: tuple[type[Exception], ...] = (
    PortalError,
    StoreError,
    exc.DBAPIError,
    *_CONNECTION_FAILURES,
)


def forbidden(message: str = "you do not have access to this page") -> PortalError:
    return PortalError(403, message)


def not_found(message: str = "not found") -> PortalError:
    return PortalError(404, message)


def bad_field(field: str, message: str) -> PortalError:
    return PortalError(400, message, field)
