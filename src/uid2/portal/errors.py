"""The portal's one error type, and the mapping from the layers below.

::

    PortalError(status, message, field)   refused: an HTTP status, one line for the user,
                                          and the form field it concerns (None: the whole form)

Admin and store errors are mapped here, at one seam; their messages never hold a secret.
"""

from __future__ import annotations

from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.store.errors import StoreError, StoreErrorCode

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
        status = _STORE.get(error.code, 503)
        return cls(status, error.message)


def forbidden(message: str = "you do not have access to this page") -> PortalError:
    return PortalError(403, message)


def not_found(message: str = "not found") -> PortalError:
    return PortalError(404, message)


def bad_field(field: str, message: str) -> PortalError:
    return PortalError(400, message, field)
