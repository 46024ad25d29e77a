"""The portal as a sender and a receiver use it: real `uid2 serve portal` and `uid2 serve
operator` processes on 127.0.0.1 over one store. Keys made and permissions granted in the
portal's JSON API reach the operator through the store version, and the official SDK's
SharingClient encrypts on one side and decrypts on the other (a tracking pixel's path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uid2_client as official
from operator_server import eventually, free_port

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

UID2 = str(Path(sys.executable).parent / "uid2")
POLL = 0.2
ADMIN = "root@platform.example"
PASSWORD = "correct horse battery staple"
RAW_UID = "Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk="


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [UID2, *args, "--json"], env=env, input=stdin, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _start(args: list[str], env: dict[str, str], log: Path, health: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen([UID2, *args], env=env, stdout=out, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            return httpx.get(health, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually(healthy, timeout=30)
    return process


class PortalApi:
    """The JSON API over plain HTTP; the session cookie is sent by hand (it is Secure)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers: dict[str, str] = {}

    def sign_in(self, email: str, password: str) -> None:
        answer = httpx.post(
            f"{self.url}/api/v1/session", json={"email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        cookie = answer.cookies["uid2_portal_session"]
        self.headers = {
            "Cookie": f"uid2_portal_session={cookie}",
            "X-CSRF-Token": answer.json()["csrf_token"],
        }

    def call(self, method: str, path: str, body: object = None, expect: int = 200) -> Any:
        answer = httpx.request(method, self.url + path, json=body, headers=self.headers)
        assert answer.status_code == expect, answer.text
        return answer.json() if answer.content else None


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[PortalApi, str, dict[str, int]]]:
    env = {**os.environ, "UID2_HOME": str(tmp_path)}
    env.pop("UID2_DATABASE_URL", None)
    _run(env, "init", "--buckets", "64")
    _run(env, "user", "create", ADMIN, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    sites = {
        name: int(_run(env, "participant", "create", name, "--type", kind)["site_id"])
        for name, kind in (("Shoe Shop", "advertiser"), ("Bid Co", "dsp"))
    }
    portal_port, operator_port = free_port(), free_port()
    portal = _start(["serve", "portal", "--port", str(portal_port)], env, tmp_path / "portal.log",
                    f"http://127.0.0.1:{portal_port}/healthz")  # fmt: skip
    try:
        operator = _start(
            ["serve", "operator", "--port", str(operator_port), "--poll-interval", str(POLL)],
            env, tmp_path / "operator.log", f"http://127.0.0.1:{operator_port}/ops/healthcheck",
        )  # fmt: skip
        try:
            yield (
                PortalApi(f"http://127.0.0.1:{portal_port}"),
                f"http://127.0.0.1:{operator_port}",
                sites,
            )
        finally:
            operator.terminate()
            operator.wait(timeout=20)
    finally:
        portal.terminate()
        portal.wait(timeout=20)


def _decrypts(receiver: Any, token: str) -> bool:
    receiver.refresh()
    result = receiver.decrypt_token_into_raw_uid(token)
    return bool(result.success and result.uid == RAW_UID)


def test_keys_and_grants_made_in_the_portal_drive_the_official_sdk(
    stack: tuple[PortalApi, str, dict[str, int]],
) -> None:
    portal, operator_url, sites = stack
    portal.sign_in(ADMIN, PASSWORD)
    shop, bidder = sites["Shoe Shop"], sites["Bid Co"]
    sender_key = portal.call("POST", f"/api/v1/participants/{shop}/api-keys",
                             {"name": "pixel", "roles": ["SHARER"]}, expect=201)  # fmt: skip
    receiver_key = portal.call("POST", f"/api/v1/participants/{bidder}/api-keys",
                               {"name": "pixels-in", "roles": ["SHARER"]}, expect=201)  # fmt: skip

    sender = official.SharingClient(operator_url, sender_key["key"], sender_key["secret"])
    eventually(lambda: sender.refresh().success, timeout=20)  # the new key reaches the operator
    token = sender.encrypt_raw_uid_into_token(RAW_UID).encrypted_data
    receiver = official.SharingClient(operator_url, receiver_key["key"], receiver_key["secret"])
    eventually(lambda: receiver.refresh().success, timeout=20)
    assert not receiver.decrypt_token_into_raw_uid(token).success  # no permission yet

    granted = portal.call("POST", f"/api/v1/participants/{shop}/sharing", {"add_sites": [bidder]})
    assert granted["changed"] and bidder in granted["allowed_sites"]
    assert bidder in portal.call("GET", f"/api/v1/participants/{shop}/sharing")["readers"]
    eventually(lambda: _decrypts(receiver, token), timeout=20)

    portal.call("POST", f"/api/v1/participants/{shop}/sharing", {"remove_sites": [bidder]})
    eventually(lambda: not _decrypts(receiver, token), timeout=20)

    portal.call("POST", f"/api/v1/participants/{shop}/sharing", {"types": ["dsp"]})
    eventually(lambda: _decrypts(receiver, token), timeout=20)  # a type grant covers the DSP

    key_path = f"/api/v1/participants/{shop}/api-keys/{sender_key['key_id']}/disable"
    portal.call("POST", key_path)  # a bodiless action
    disabled = official.SharingClient(operator_url, sender_key["key"], sender_key["secret"])
    eventually(lambda: not disabled.refresh().success, timeout=20)
