"""Sender helpers for pixels: build tracking pixel URLs and fill creative pixel templates.

Pixels carry UID2 tokens, never raw UID2s (portal-and-sharing §1.4): these helpers only ever
put a token in a URL. The URL shape is ``{pixel_url}?uid2_token=TOKEN&ev=EVENT&...`` and a
creative template marks the token's place with ``{UID2_TOKEN}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from uid2.core.enums import EncryptionStatus
from uid2.sdk.identity_tokens import IdentityTokens
from uid2.sdk.key_clients import SharingClient

TOKEN_MACRO = "{UID2_TOKEN}"
TOKEN_PARAM = "uid2_token"
EVENT_PARAM = "ev"


def tracking_pixel_url(
    pixel_url: str, token: str, event: str, params: Mapping[str, str] | None = None
) -> str:
    """The tracking pixel URL for ``token`` (every value percent-encoded)."""
    query = {TOKEN_PARAM: token, EVENT_PARAM: event, **(params or {})}
    separator = "&" if "?" in pixel_url else "?"
    return pixel_url + separator + urlencode(query, quote_via=quote)


def tracking_pixel_url_for(
    identity: IdentityTokens, pixel_url: str, event: str, params: Mapping[str, str] | None = None
) -> str:
    """The same, for an identity from ``Uid2PublisherClient.generate_token(...)``."""
    token = identity.get_advertising_token()
    if not token:
        raise ValueError("the identity holds no advertising token")
    return tracking_pixel_url(pixel_url, token, event, params)


def creative_pixel_url(template: str, token: str) -> str:
    """``template`` with its ``{UID2_TOKEN}`` macro replaced by the percent-encoded token."""
    if template.count(TOKEN_MACRO) != 1:
        raise ValueError(f"the template must hold {TOKEN_MACRO} exactly once")
    return template.replace(TOKEN_MACRO, quote(token, safe=""))


@dataclass(frozen=True, slots=True)
class CreativeUrl:
    status: EncryptionStatus
    url: str | None  # None unless status is SUCCESS

    @property
    def success(self) -> bool:
        return self.status is EncryptionStatus.SUCCESS


def creative_pixel_urls(
    client: SharingClient, template: str, raw_uids: Iterable[str]
) -> list[CreativeUrl]:
    """One creative URL per raw UID2 (an impression each), in order; a raw UID2 that cannot be
    encrypted gives its status and no URL."""
    if template.count(TOKEN_MACRO) != 1:
        raise ValueError(f"the template must hold {TOKEN_MACRO} exactly once")
    urls = []
    for raw_uid in raw_uids:
        encrypted = client.encrypt_raw_uid_into_token(raw_uid)
        token = encrypted.encrypted_data
        if token is None:
            urls.append(CreativeUrl(encrypted.status, None))
        else:
            urls.append(CreativeUrl(encrypted.status, creative_pixel_url(template, token)))
    return urls
