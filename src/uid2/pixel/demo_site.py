"""The demo sites `uid2 up` serves: an advertiser's shop and a publisher's ad page.

* ``/shop``: a checkout whose "Buy" fires the tracking pixel from the browser (uid2-pixel.js:
  the email is hashed in the page, turned into a token by client-side generation, and only
  the token travels to the DSP's receiver).
* ``/ad``: an ad impression. The DSP's ad server takes the raw UID2 it bid on (here: the
  latest one its receiver recorded), encrypts it into a fresh token with its SharingClient and
  puts the token in the creative pixel, which goes to the advertiser's receiver.

Served on ``http://localhost``, the one host name a demo CSTG key is registered for.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from uid2.sdk.pixels import creative_pixel_url

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class ShopConfig:
    """What the shop page hands to uid2-pixel.js (none of it is secret)."""

    operatorUrl: str  # noqa: N815 (the JavaScript's own spelling)
    subscriptionId: str  # noqa: N815
    serverPublicKey: str  # noqa: N815
    pixelUrl: str  # noqa: N815


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>body{{font:16px system-ui;max-width:640px;margin:40px auto}}"
        f"label,input,button{{display:block;margin:8px 0}}</style></head><body>{body}</body>"
        f"</html>",
        headers={"cache-control": "no-store"},
    )


def _ad(message: str) -> HTMLResponse:
    return _page("Demo ad", f"<h1>Demo ad</h1><p id='result'>{message}</p>")


def create_demo_app(
    shop: ShopConfig,
    creative_template: str,
    latest_raw_uid: Callable[[], str | None],
    encrypt: Callable[[str], str | None],
) -> Starlette:
    """``latest_raw_uid`` reads the DSP's receiver; ``encrypt`` is the DSP's SharingClient."""

    async def index(request: Request) -> Response:
        return _page("uid2 demo", "<h1>uid2 demo</h1><ul><li><a href='/shop'>The shoe shop"
                     "</a> (tracking pixel)</li><li><a href='/ad'>An ad page</a> (creative "
                     "pixel)</li></ul>")  # fmt: skip

    async def shop_page(request: Request) -> Response:
        # JSON inside <script> is not HTML-decoded: escape "<" so no "</script>" can close it
        config = json.dumps(asdict(shop)).replace("<", "\\u003c")
        return _page(
            "Demo Shoe Shop",
            f"""<h1>Demo Shoe Shop</h1>
<p>Running shoes, 89.00</p>
<form id="checkout" method="post" action="/shop">
  <label for="email">Email for your receipt</label>
  <input id="email" name="email" type="email" required>
  <button type="submit">Buy</button>
</form>
<p id="result" role="status"></p>
<script id="uid2-config" type="application/json">{config}</script>
<script src="/uid2-pixel.js"></script>
<script src="/demo-shop.js"></script>""",
        )

    async def ad_page(request: Request) -> Response:
        raw_uid = latest_raw_uid()
        if raw_uid is None:
            return _ad("The DSP has seen nobody yet: <a href='/shop'>buy something</a> first.")
        token = encrypt(raw_uid)
        if token is None:
            return _ad("The DSP could not encrypt (it has no sharing keys yet).")
        pixel = html.escape(creative_pixel_url(creative_template, token))
        return _page(
            "Demo ad",
            f"""<h1>Demo ad</h1>
<p id="result">An ad for running shoes, shown to the shopper the DSP bid on.</p>
<img id="creative-pixel" src="{pixel}" width="1" height="1" alt="">""",
        )

    return Starlette(
        routes=[
            Route("/", index),
            # POST: the checkout without JavaScript keeps the email out of the URL
            Route("/shop", shop_page, methods=["GET", "POST"]),
            Route("/ad", ad_page),
            Route("/uid2-pixel.js", lambda r: FileResponse(STATIC / "uid2-pixel.js")),
            Route("/demo-shop.js", lambda r: FileResponse(STATIC / "demo-shop.js")),
        ]
    )
