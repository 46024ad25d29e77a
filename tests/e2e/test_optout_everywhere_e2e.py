"""Opt-out end to end (issue 8): an opt-out recorded through each entry point is seen by two
operator processes on one database, by every endpoint that must honour it.

Entry points: `uid2 optout add`, `/v2/token/logout` (OPTOUT role) and, when the portal serves
it, the consumer page. Endpoints checked on both operators: token generate, refresh and
client-side generate answer `optout`; identity map v2 and v3 list the identity as unmapped
with reason `optout`; `/v2/optout/status` reports the opt-out time in milliseconds. The time
it takes is measured by `bench/optout_propagation.py`, not asserted here.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from operator_server import eventually, free_port

import uid2
from uid2.core.cstg import build_cstg_request, open_cstg_response, parse_public_key_string
from uid2.core.cstg import shared_secret as cstg_secret
from uid2.core.dii import hash_dii_b64, normalize_email
from uid2.sdk.http import OperatorSession

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

UID2 = str(Path(sys.executable).parent / "uid2")
POLL = 0.2


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run([UID2, *args, "--json"], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return json.loads(done.stdout)  # type: ignore[no-any-return]


class Operators:
    """The two operators and one client of each kind per operator (closed at the end)."""

    def __init__(self, env: dict[str, str], urls: list[str], keys: dict[str, dict[str, Any]],
                 cstg: dict[str, Any]) -> None:  # fmt: skip
        self.env, self.urls, self.keys, self.cstg = env, urls, keys, cstg
        self._clients: dict[tuple[str, str], Any] = {}

    def _client(self, kind: str, url: str, make: Callable[[str, str, str], Any]) -> Any:
        who = "publisher" if kind in ("publisher", "session:publisher") else "mapper"
        if (kind, url) not in self._clients:
            self._clients[kind, url] = make(url, self.keys[who]["key"], self.keys[who]["secret"])
        return self._clients[kind, url]

    def publisher(self, url: str) -> uid2.Uid2PublisherClient:
        return self._client("publisher", url, uid2.Uid2PublisherClient)  # type: ignore[no-any-return]

    def mapper(self, url: str) -> uid2.IdentityMapV3Client:
        return self._client("mapper", url, uid2.IdentityMapV3Client)  # type: ignore[no-any-return]

    def session(self, url: str, who: str) -> OperatorSession:
        return self._client(f"session:{who}", url, OperatorSession)  # type: ignore[no-any-return]

    def close(self) -> None:
        for client in self._clients.values():
            if hasattr(client, "close"):
                client.close()


@pytest.fixture
def operators(tmp_path: Path) -> Iterator[Operators]:
    env = {**os.environ, "UID2_HOME": str(tmp_path)}
    env.pop("UID2_DATABASE_URL", None)
    _cli(env, "init", "--buckets", "256")
    pub = _cli(env, "participant", "create", "News", "--type", "publisher", "--domain",
               "news.example")  # fmt: skip
    adv = _cli(env, "participant", "create", "Shop", "--type", "advertiser")
    keys = {
        "publisher": _cli(
            env, "apikey", "create", "--site", str(pub["site_id"]), "--roles", "GENERATOR,OPTOUT"
        ),  # fmt: skip
        "mapper": _cli(
            env, "apikey", "create", "--site", str(adv["site_id"]), "--roles", "MAPPER"
        ),  # fmt: skip
    }
    cstg = _cli(env, "cstg-key", "create", "--site", str(pub["site_id"]))
    servers, urls = [], []
    for _ in range(2):
        port = free_port()
        with (tmp_path / f"operator-{port}.log").open("wb") as log:
            servers.append(subprocess.Popen(
                [UID2, "serve", "operator", "--port", str(port), "--poll-interval", str(POLL)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            eventually(lambda u=url: _ok(u + "/ops/healthcheck"), timeout=30)  # type: ignore[misc]
        ops = Operators(env, urls, keys, cstg)
        yield ops
        ops.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)


def _cstg_status(ops: Operators, url: str, email: str) -> str:
    normalized = normalize_email(email)
    assert normalized is not None
    identity = json.dumps({"email_hash": hash_dii_b64(normalized)}).encode()
    private = ec.generate_private_key(ec.SECP256R1())
    request = build_cstg_request(
        ops.cstg["public_key"], identity, now_ms=time.time_ns() // 1_000_000,
        client_private_key=private, iv=os.urandom(12), subscription_id=ops.cstg["subscription_id"],
    )  # fmt: skip
    with httpx.Client() as client:
        answer = client.post(url + "/v2/token/client-generate", json=request,
                             headers={"Origin": "https://news.example"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    secret = cstg_secret(private, parse_public_key_string(ops.cstg["public_key"]))
    return str(json.loads(open_cstg_response(secret, answer.text))["status"])


def _map_v2_reason(ops: Operators, url: str, email: str) -> str | None:
    answer = json.loads(ops.session(url, "mapper").post_envelope(
        "/v2/identity/map", {"email": [email]}))  # fmt: skip
    unmapped = {u["identifier"]: u["reason"] for u in answer["body"].get("unmapped", [])}
    return unmapped.get(email)


def _optout_since(ops: Operators, url: str, raw_uid: str) -> int | None:
    answer = json.loads(ops.session(url, "mapper").post_envelope(
        "/v2/optout/status", {"advertising_ids": [raw_uid]}))  # fmt: skip
    found = answer["body"]["opted_out"]
    return int(found[0]["opted_out_since"]) if found else None


def _honoured_everywhere(ops: Operators, url: str, email: str, raw_uid: str,
                         refresh_token: str) -> bool:  # fmt: skip
    publisher = ops.publisher(url)
    tokens = uid2.IdentityTokens.from_json_string(refresh_token)
    mapped = ops.mapper(url).generate_identity_map(uid2.IdentityMapV3Input.from_emails([email]))
    unmapped = mapped.unmapped_identities.get(email)
    return (
        publisher.generate_token(uid2.TokenGenerateInput.from_email(email)).is_optout()
        and publisher.refresh_token(tokens).is_optout()
        and _cstg_status(ops, url, email) == "optout"
        and _map_v2_reason(ops, url, email) == "optout"
        and unmapped is not None
        and unmapped.reason is uid2.UnmappedIdentityReason.OPTOUT
        and (_optout_since(ops, url, raw_uid) or 0) > 0
    )


def _before(ops: Operators, email: str) -> tuple[str, str]:
    """The raw UID2 and a live identity (JSON) for ``email``, before its opt-out."""
    url = ops.urls[0]
    mapped = ops.mapper(url).generate_identity_map(uid2.IdentityMapV3Input.from_emails([email]))
    raw_uid = mapped.mapped_identities[email].current_raw_uid
    identity = ops.publisher(url).generate_token(uid2.TokenGenerateInput.from_email(email))
    tokens = identity.get_identity()
    assert tokens is not None and _cstg_status(ops, url, email) == "success"
    assert all(_optout_since(ops, u, raw_uid) is None for u in ops.urls)
    return raw_uid, tokens.get_json_string()


def _logout(ops: Operators, email: str) -> None:
    answer = json.loads(ops.session(ops.urls[1], "publisher").post_envelope(
        "/v2/token/logout", {"email": email}))  # fmt: skip
    assert answer["body"] == {"optout": "OK"}


@pytest.mark.parametrize("entry", ["cli", "logout"])
def test_an_opt_out_reaches_every_endpoint_of_both_operators(
    operators: Operators, entry: str
) -> None:
    email = f"leaving.{entry}@example.com"
    raw_uid, identity = _before(operators, email)
    recorded_ms = time.time_ns() // 1_000_000
    if entry == "cli":
        _cli(operators.env, "optout", "add", "--email", email)
    else:
        _logout(operators, email)
    for url in operators.urls:
        eventually(
            lambda u=url: _honoured_everywhere(operators, u, email, raw_uid, identity), timeout=15
        )  # type: ignore[misc]
        since = _optout_since(operators, url, raw_uid)
        assert since is not None and since % 1000 == 0  # milliseconds, from a seconds record
        assert recorded_ms - 1000 <= since <= time.time_ns() // 1_000_000
    other = f"staying.{entry}@example.com"
    assert operators.publisher(operators.urls[1]).generate_token(
        uid2.TokenGenerateInput.from_email(other)).is_success()  # fmt: skip


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return html.unescape(found.group(1))


def _consumer_page_optout(portal: str, email: str) -> None:
    """The two steps of the portal's /optout page, as a browser posts them."""
    with httpx.Client(base_url=portal) as client:
        form = client.get("/optout").text
        csrf = _hidden(form, "csrf_token")
        cookie = {"Cookie": f"uid2_portal_csrf={csrf}"}  # Secure: httpx keeps it off http
        confirm = client.post("/optout", headers=cookie, data={
            "csrf_token": csrf, "identity_type": "email", "identity": email})  # fmt: skip
        assert confirm.status_code == 200, confirm.text
        done = client.post("/optout/confirm", headers=cookie, data={
            name: _hidden(confirm.text, name)
            for name in ("csrf_token", "identity_type", "identity", "confirmation")})  # fmt: skip
        assert done.status_code == 200, done.text


def test_the_consumer_page_is_an_entry_point_too(operators: Operators, tmp_path: Path) -> None:
    email = "leaving.page@example.com"
    raw_uid, identity = _before(operators, email)
    port = free_port()
    with (tmp_path / "portal.log").open("wb") as log:
        command = [UID2, "serve", "portal", "--port", str(port)]
        portal = subprocess.Popen(command, env=operators.env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ok(url + "/healthz"), timeout=30)
        _consumer_page_optout(url, email)
        for operator in operators.urls:
            eventually(
                lambda u=operator: _honoured_everywhere(operators, u, email, raw_uid, identity),
                timeout=15,
            )  # type: ignore[misc]
    finally:
        portal.terminate()
        portal.wait(timeout=20)


def _ok(url: str) -> bool:
    try:
        with httpx.Client(timeout=1) as client:
            return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False
