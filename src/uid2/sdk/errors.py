"""The SDK's exceptions.

::

    Uid2Error                         root: catch this for "the UID2 call did not work"
    ├── TransportError                the operator could not be reached (after retries)
    │   └── Uid2TimeoutError          ... because it did not answer in time
    ├── OperatorError                 the operator answered with an error status
    │     .http_status, .status, .message   e.g. 400 "client_error" "Invalid Identifier"
    └── ResponseError                 the answer could not be decrypted or parsed
    EncryptionError(Uid2Error)        legacy client: decrypt/encrypt failed (official SDK name)

Bad *arguments* (an invalid email, a non-E.164 phone) raise ``ValueError``, as the official SDK
does. httpx exceptions are mapped to these classes at one seam (``uid2.sdk.http``).
"""

from __future__ import annotations


class Uid2Error(Exception):
    pass


class TransportError(Uid2Error):
    pass


class Uid2TimeoutError(TransportError):
    pass


class OperatorError(Uid2Error):
    def __init__(self, http_status: int, status: str | None, message: str | None) -> None:
        self.http_status = http_status
        self.status = status
        self.message = message
        detail = f": {message}" if message else ""
        super().__init__(f"operator answered HTTP {http_status} {status or 'error'}{detail}")


class ResponseError(Uid2Error):
    pass


class EncryptionError(Uid2Error):
    """Raised by the legacy ``Uid2Client`` (and ``decrypt``) on a non-success status."""
