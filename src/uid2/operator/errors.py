"""The operator's one error type: what a route answers when a request is refused.

::

    OperatorError(status, http_code, message)   every refusal a service raises

Services raise it; routes turn it into ``{"status": ..., "message": ...}`` with ``http_code``
(operator.md §1.3). Error bodies are never encrypted. The message is omitted when ``None``.
"""

from __future__ import annotations

import json
from typing import Final

import orjson


class OperatorError(Exception):
    """A refused request, carrying exactly what the HTTP answer says."""

    def __init__(self, status: str, http_code: int, message: str | None = None) -> None:
        super().__init__(message or status)
        self.status = status
        self.http_code = http_code
        self.message = message

    def body(self) -> bytes:
        document: dict[str, str] = {"status": self.status}
        if self.message is not None:
            document["message"] = self.message
        try:
            return orjson.dumps(document)
        except TypeError:  # a lone surrogate echoed from the request
            return json.dumps(document, separators=(",", ":")).encode("ascii")


UNAUTHORIZED_BODY: Final = b'{"status":"unauthorized"}'


def client_error(message: str) -> OperatorError:
    return OperatorError("client_error", 400, message)


def unauthorized(message: str | None = None) -> OperatorError:
    return OperatorError("unauthorized", 401, message)


def no_active_key() -> OperatorError:
    return OperatorError("unknown", 500, "No active encryption key available")


def invalid_token(message: str = "Invalid Token presented") -> OperatorError:
    return OperatorError("invalid_token", 400, message)
