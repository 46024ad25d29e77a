"""``/v2/optout/status``: which raw UID2s have opted out (operator.md §1.16).

Not in the official SDK. Receivers that keep raw UID2s (pixel receivers, audience stores) use
it to drop opted-out identities; requests go 5,000 ids at a time, the operator's limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import httpx

from uid2.sdk.errors import ResponseError
from uid2.sdk.http import HttpSettings, OperatorSession

MAX_IDS_PER_REQUEST = 5000


class OptOutStatusClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        client_secret: str,
        *,
        http_settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._session = OperatorSession(
            base_url, api_key, client_secret, settings=http_settings, transport=transport
        )

    def opted_out(self, raw_uids: Iterable[str]) -> dict[str, int]:
        """``{raw UID2: opted out since (epoch ms)}`` for those of ``raw_uids`` that opted out."""
        ids = list(dict.fromkeys(raw_uids))
        found: dict[str, int] = {}
        for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
            batch = ids[start : start + MAX_IDS_PER_REQUEST]
            answer = self._session.post_envelope("/v2/optout/status", {"advertising_ids": batch})
            found.update(_parse(answer))
        return found

    def close(self) -> None:
        self._session.close()


def _parse(answer: bytes) -> dict[str, int]:
    try:
        entries = json.loads(answer)["body"]["opted_out"]
        return {str(e["advertising_id"]): int(e["opted_out_since"]) for e in entries}
    except (ValueError, KeyError, TypeError) as error:
        raise ResponseError("unexpected /v2/optout/status response") from error
