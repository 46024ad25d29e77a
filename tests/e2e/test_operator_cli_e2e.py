"""The deployment a user runs: a control plane made with the `uid2` CLI and a real
`uid2 serve operator --workers 2` process, driven by the official SDK and ours over HTTP on
127.0.0.1 while the CLI changes keys, sharing and API keys underneath it (issue 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uid2_client as official
from operator_server import eventually, free_port

import uid2

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

UID2 = str(Path(sys.executable).parent / "uid2")
POLL = 0.2  # seconds between the operator's store polls in this test


@dataclass(frozen=True)
class Key:
    site_id: int
    key: str
    secret: str
    key_id: str


class ControlPlane:
    def __init__(self, home: Path) -> None:
        self.env = {**os.environ, "UID2_HOME": str(home)}
        self.env.pop("UID2_DATABASE_URL", None)

    def run(self, *args: str) -> dict[str, object]:
        out = subprocess.run(
            [UID2, *args, "--json"], env=self.env, capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    def participant(self, name: str, kind: str, roles: str, *extra: str) -> Key:
        site = int(self.run("participant", "create", name, "--type", kind, *extra)["site_id"])  # type: ignore[call-overload]
        made = self.run("apikey", "create", "--site", str(site), "--roles", roles)
        return Key(site, str(made["key"]), str(made["secret"]), str(made["key_id"]))


def converge() -> None:
    """Let every worker poll: each reloads on its own, at most POLL seconds apart."""
    time.sleep(POLL * 5)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[ControlPlane, str]]:
    plane = ControlPlane(tmp_path)
    plane.run("init", "--buckets", "256")
    port = free_port()
    env = {
        **plane.env,
        # short identities, to refresh after expiry within the test
        "UID2_OPERATOR_IDENTITY_TOKEN_EXPIRES_AFTER_SECONDS": "2",
        "UID2_OPERATOR_REFRESH_IDENTITY_TOKEN_AFTER_SECONDS": "1",
    }
    log = tmp_path / "operator.log"
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [UID2, "serve", "operator", "--port", str(port), "--workers", "2",
             "--poll-interval", str(POLL)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _healthy(url, server, log), timeout=30)
        yield plane, url
    finally:
        server.terminate()
        server.wait(timeout=20)


def _healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> bool:
    if server.poll() is not None:
        raise AssertionError(log.read_text())
    try:
        return httpx.get(url + "/ops/healthcheck", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_cli_made_control_plane_served_by_two_workers(
    deployment: tuple[ControlPlane, str],
) -> None:
    with ExitStack() as stack:
        _scenario(*deployment, lambda client: stack.callback(client.close) and client)


def _scenario(plane: ControlPlane, url: str, ours_: Callable[[Any], Any]) -> None:
    # participants created while the operator runs appear after a poll
    publisher = plane.participant("News", "publisher", "GENERATOR", "--domain", "news.example")
    dsp = plane.participant("Bidder", "dsp", "ID_READER")
    advertiser = plane.participant("Shop", "advertiser", "MAPPER,SHARER")
    theirs = official.Uid2PublisherClient(url, publisher.key, publisher.secret)
    ours = ours_(uid2.Uid2PublisherClient(url, publisher.key, publisher.secret))
    eventually(lambda: _generates(ours), timeout=10)
    converge()

    # generate (both SDKs), the test identities, refresh, refresh after expiry
    identity = theirs.generate_token(official.TokenGenerateInput.from_email("e2e@example.com"))
    tokens = identity.get_identity()
    assert identity.is_success() and tokens is not None
    assert theirs.refresh_token(tokens).is_success()
    assert theirs.generate_token(
        official.TokenGenerateInput.from_email("optout@example.com")
    ).is_optout()
    refresh_optout = ours.generate_token(
        uid2.TokenGenerateInput.from_email("refresh-optout@example.com")
    )
    assert ours.refresh_token(refresh_optout.get_identity()).is_optout()  # type: ignore[arg-type]
    mine = ours.generate_token(uid2.TokenGenerateInput.from_phone("+12345678901")).get_identity()
    assert mine is not None
    time.sleep(2.2)  # the identity (2 s) has expired; its refresh token has not
    assert mine.has_identity_expired(datetime.now(UTC))
    assert ours.refresh_token(mine).is_success()

    # bidstream decrypt with a domain, by both SDKs
    bidder_theirs = official.BidstreamClient(url, dsp.key, dsp.secret)
    bidder_ours = ours_(uid2.BidstreamClient(url, dsp.key, dsp.secret))
    assert bidder_theirs.refresh().success and bidder_ours.refresh().success
    fresh = theirs.generate_token(official.TokenGenerateInput.from_email("e2e@example.com"))
    token = fresh.get_identity().get_advertising_token()
    assert bidder_theirs.decrypt_token_into_raw_uid(token, "news.example").success
    decrypted = bidder_ours.decrypt_token_into_raw_uid(token, "news.example")
    assert decrypted.site_id == publisher.site_id  # checked now: identities live 2 s here

    # identity map v2 and v3, buckets
    v3 = ours_(uid2.IdentityMapV3Client(url, advertiser.key, advertiser.secret))
    mapped = v3.generate_identity_map(uid2.IdentityMapV3Input.from_emails(["e2e@example.com"]))
    raw_uid = mapped.mapped_identities["e2e@example.com"].current_raw_uid
    v2 = official.IdentityMapClient(url, advertiser.key, advertiser.secret)
    answer = v2.generate_identity_map(official.IdentityMapInput.from_emails(["e2e@example.com"]))
    assert answer.mapped_identities["e2e@example.com"].get_raw_uid() == raw_uid
    since = datetime(2020, 1, 1, tzinfo=UTC)
    assert v2.get_identity_buckets(since).buckets
    assert decrypted.uid == raw_uid

    # sharing: the advertiser's tokens reach the DSP only after a grant (within a poll)
    sharer = ours_(uid2.SharingClient(url, advertiser.key, advertiser.secret))
    assert sharer.refresh().success
    shared = sharer.encrypt_raw_uid_into_token(raw_uid).encrypted_data
    receiver = ours_(uid2.SharingClient(url, dsp.key, dsp.secret))
    receiver.refresh()
    assert not receiver.decrypt_token_into_raw_uid(shared).success  # type: ignore[arg-type]
    plane.run("share", "grant", "--site", str(advertiser.site_id), "--to", str(dsp.site_id))
    eventually(lambda: _decrypts(receiver, shared, raw_uid), timeout=POLL * 20)
    theirs_receiver = official.SharingClient(url, dsp.key, dsp.secret)
    # each worker polls on its own: the grant is there once the worker answering has polled
    eventually(lambda: _official_decrypts(theirs_receiver, shared, raw_uid), timeout=POLL * 20)

    # a key rotation in the middle of the run: a token made before it (the 30-day sharing
    # token) still decrypts, and tokens made after it decrypt too
    plane.run("keys", "rotate", "--force")
    converge()
    assert receiver.refresh().success and bidder_ours.refresh().success
    assert receiver.decrypt_token_into_raw_uid(shared).uid == raw_uid  # type: ignore[arg-type]
    after = ours.generate_token(uid2.TokenGenerateInput.from_email("e2e@example.com"))
    new_token = after.get_identity().get_advertising_token()  # type: ignore[union-attr]
    assert bidder_ours.decrypt_token_into_raw_uid(new_token, "news.example").uid == raw_uid  # type: ignore[arg-type]

    # bad key, bad secret, bad URL, and a disabled key
    with pytest.raises(uid2.OperatorError) as bad_key:
        ours_(
            uid2.Uid2PublisherClient(url, "UID2-C-L-999-abcdef.x", publisher.secret)
        ).generate_token(uid2.TokenGenerateInput.from_email("a@b.com"))
    assert bad_key.value.http_status == 401
    wrong_secret = ours_(uid2.SharingClient(url, dsp.key, advertiser.secret)).refresh()
    assert not wrong_secret.success
    unreachable = ours_(uid2.Uid2PublisherClient(
        "http://127.0.0.1:9", publisher.key, publisher.secret,
        http_settings=uid2.HttpSettings(retry=uid2.RetryPolicy(retry_intervals=())),
    ))  # fmt: skip
    with pytest.raises(uid2.TransportError):
        unreachable.generate_token(uid2.TokenGenerateInput.from_email("a@b.com"))
    plane.run("apikey", "disable", publisher.key_id)
    eventually(lambda: not _generates(ours), timeout=POLL * 20)
    converge()
    with pytest.raises(uid2.OperatorError) as disabled:
        ours.generate_token(uid2.TokenGenerateInput.from_email("a@b.com"))
    assert (disabled.value.http_status, disabled.value.status) == (401, "unauthorized")


def _generates(client: uid2.Uid2PublisherClient) -> bool:
    try:
        return client.generate_token(
            uid2.TokenGenerateInput.from_email("probe@example.com")
        ).is_success()
    except uid2.OperatorError:
        return False


def _decrypts(client: uid2.SharingClient, token: str | None, raw_uid: str) -> bool:
    client.refresh()
    return client.decrypt_token_into_raw_uid(token or "").uid == raw_uid


def _official_decrypts(client: official.SharingClient, token: str | None, raw_uid: str) -> bool:
    return (
        bool(client.refresh().success) and client.decrypt_token_into_raw_uid(token).uid == raw_uid
    )
