"""The core's one error type.

::

    CoreError(status)                 every failure raised by uid2.core carries a status enum
    ├── TokenError                    advertising / sharing tokens   status: DecryptionStatus
    ├── EncryptError                  making a token                 status: EncryptionStatus
    ├── EnvelopeError                 v2 request/response envelope   status: EnvelopeStatus
    ├── RefreshTokenError             refresh token and its wrapper  status: RefreshTokenStatus
    ├── CstgError                     client-side token generation   status: CstgStatus
    └── KeyParseError                 key-sync JSON                  status: KeyParseStatus

Public *decode* functions do not raise these for bad input; they return a result with a
status. The exceptions exist for the encode side and for callers that prefer raising
(``result.raise_for_status()``). Programmer errors (wrong argument types or sizes) raise
``TypeError``/``ValueError`` instead.
"""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

S = TypeVar("S", bound=Enum)


class CoreError(Exception, Generic[S]):
    def __init__(self, status: S, detail: str | None = None) -> None:
        self.status: S = status
        self.detail = detail
        super().__init__(detail or str(status.value))


class TokenError(CoreError[S]):
    pass


class EncryptError(CoreError[S]):
    pass


class EnvelopeError(CoreError[S]):
    pass


class RefreshTokenError(CoreError[S]):
    pass


class CstgError(CoreError[S]):
    pass


class KeyParseError(CoreError[S]):
    pass
