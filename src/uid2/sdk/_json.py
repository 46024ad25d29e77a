"""Parsing of decrypted operator responses into ``(status, body)``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from uid2.sdk.errors import ResponseError


def parse_status_body(response: str | bytes) -> tuple[str, Any]:
    """Read ``{"status": ..., "body": ...}``; raises ResponseError if it is not that shape."""
    try:
        document = json.loads(response)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ResponseError("operator response is not JSON") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("status"), str):
        raise ResponseError("operator response has no status")
    return document["status"], document.get("body")
