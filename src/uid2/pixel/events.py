"""One pixel hit, read into an event to store: pure, given the decrypt function and the time.

What is kept: the kind, the event name, a status, the sender's site id and the raw UID2 (on
success only), the token's established and generated times, the other query parameters as
bounded JSON, and the referring page's host. Never the token, never the referring URL (a page
URL can carry an email address).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from uid2.core.encoding import b64decode_any
from uid2.core.enums import DecryptionStatus
from uid2.core.tokens.result import DecryptResult

TOKEN_PARAM = "uid2_token"
EVENT_PARAM = "ev"
CACHE_BUSTER_PARAM = "cb"  # uid2-pixel.js makes each image URL unique with it: not event data
MAX_TOKEN_LENGTH = 1024  # tokens are under 500 characters (portal-and-sharing §1.4)
MAX_EVENT_LENGTH = 64
MAX_PARAMS_BYTES = 2048
MAX_FIELDS = 64
RAW_UID_BYTES = frozenset({32, 33})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PixelKind(Enum):
    TRACKING = "tracking"
    CREATIVE = "creative"


class Extra(Enum):
    """Statuses besides the SDK's decryption statuses."""

    NO_TOKEN = "NO_TOKEN"  # e.g. an opted-out user's tracking pixel (uid2-pixel.js sends none)
    RAW_UID_REJECTED = "RAW_UID_REJECTED"  # a raw UID2 where a token belongs: never stored
    PARAMS_TOO_LARGE = "PARAMS_TOO_LARGE"
    OPTED_OUT = "OPTED_OUT"  # decrypted, but the raw UID2 has opted out: not kept


@dataclass(frozen=True, slots=True)
class PixelEvent:
    received_ms: int
    kind: PixelKind
    event: str
    status: str
    sender_site_id: int | None
    raw_uid2: str | None
    established_ms: int | None
    generated_ms: int | None
    params: str  # JSON object text, at most MAX_PARAMS_BYTES
    referrer_domain: str | None

    def without_uid(self, status: str) -> PixelEvent:
        return PixelEvent(
            self.received_ms, self.kind, self.event, status, self.sender_site_id, None,
            self.established_ms, self.generated_ms, self.params, self.referrer_domain,
        )  # fmt: skip


Decrypt = Callable[[str], DecryptResult]


def looks_like_raw_uid(text: str) -> bool:
    """A raw UID2 is 44 base64 characters (32 or 33 bytes); a token is several times longer."""
    if len(text) > 48:
        return False
    decoded = b64decode_any(text)
    return decoded is not None and len(decoded) in RAW_UID_BYTES


def referrer_domain(referer: str | None) -> str | None:
    if not referer:
        return None
    try:
        host = urlsplit(referer).hostname
    except ValueError:
        return None
    return host[:253] if host else None


def _event_name(values: Sequence[str]) -> str:
    return _CONTROL.sub("", values[0])[:MAX_EVENT_LENGTH] if values else ""


def _params(fields: dict[str, list[str]]) -> str | None:
    """The other parameters as JSON (one value, or a list when repeated); None if too large."""
    others = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
    text = json.dumps(others, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text if len(text.encode("utf-8", "replace")) <= MAX_PARAMS_BYTES else None


def build_event(
    kind: PixelKind,
    fields: dict[str, list[str]] | None,
    referer: str | None,
    now_ms: int,
    decrypt: Decrypt,
) -> PixelEvent:
    """``fields`` are the parsed query (and beacon body) parameters; None when they exceeded
    the field count. The token is decrypted here and dropped."""
    too_many = fields is None
    fields = dict(fields or {})
    tokens = fields.pop(TOKEN_PARAM, [])
    event = _event_name(fields.pop(EVENT_PARAM, []))
    fields.pop(CACHE_BUSTER_PARAM, None)
    params = None if too_many else _params(fields)
    base = (now_ms, kind, event)
    domain = referrer_domain(referer)
    if params is None:
        return PixelEvent(*base, Extra.PARAMS_TOO_LARGE.value, None, None, None, None, "{}", domain)
    if not tokens or not tokens[0]:
        return PixelEvent(*base, Extra.NO_TOKEN.value, None, None, None, None, params, domain)
    token = tokens[0]
    if looks_like_raw_uid(token):
        return PixelEvent(
            *base, Extra.RAW_UID_REJECTED.value, None, None, None, None, params, domain
        )
    if len(token) > MAX_TOKEN_LENGTH:
        status = DecryptionStatus.INVALID_PAYLOAD.name
        return PixelEvent(*base, status, None, None, None, None, params, domain)
    result = decrypt(token)
    uid = result.uid if result.status is DecryptionStatus.SUCCESS else None
    return PixelEvent(
        *base, result.status.name, result.site_id, uid, result.established_ms,
        result.generated_ms, params, domain,
    )  # fmt: skip
