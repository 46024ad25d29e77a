"""The admin layer's one error type.

::

    AdminError(code, message)      a use case refused a command; nothing was written

The message is one line for an operator's eyes: it names the problem (and the offending value
when that value is not a secret), never a key, secret or salt.
"""

from __future__ import annotations

from enum import Enum


class AdminErrorCode(Enum):
    NOT_INITIALIZED = "not_initialized"
    SCOPE_MISMATCH = "scope_mismatch"
    BAD_ARGUMENT = "bad_argument"
    BAD_NAME = "bad_name"
    DUPLICATE_NAME = "duplicate_name"
    UNKNOWN_SITE = "unknown_site"
    UNKNOWN_ROLE = "unknown_role"
    UNKNOWN_TYPE = "unknown_type"
    BAD_DOMAIN = "bad_domain"
    BAD_APP_NAME = "bad_app_name"
    UNKNOWN_API_KEY = "unknown_api_key"
    UNKNOWN_KEYPAIR = "unknown_keypair"
    NO_KEYSET = "no_keyset"
    BAD_IDENTITY = "bad_identity"
    BAD_EMAIL = "bad_email"
    BAD_PASSWORD = "bad_password"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED_OUT = "locked_out"
    BAD_LINK = "bad_link"
    UNKNOWN_USER = "unknown_user"
    ALREADY_MEMBER = "already_member"
    NOT_ALLOWED = "not_allowed"  # a guard refused (removing yourself, the last Admin, ...)


class AdminError(Exception):
    def __init__(self, code: AdminErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)
