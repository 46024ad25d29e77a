"""The pixel receiver as a DSP deploys it: a control plane made with the `uid2` CLI, a real
`uid2 serve operator` process, and real `uid2 serve pixel` processes on 127.0.0.1, fed by an
advertiser's SharingClient (ours) over HTTP.

- sharing permissions reach the receiver: a grant at its next pixel (keys refreshed on
  demand), a revoke at its next key refresh;
- an answered pixel is stored: kill -9 in the middle of a stream loses no acknowledged event;
- an opt-out recorded with `uid2 optout add` purges the raw UID2 from the receiver's events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from operator_server import eventually, free_port

import uid2
from uid2.pixel.app import GIF
from uid2.pixel.store import EventStore, StoredEvent, open_engine
from uid2.sdk.optout_status import OptOutStatusClient
from uid2.store import sqlite_url

pytestmark = [pytest.mark.interop]

UID2 = str(Path(sys.executable).parent / "uid2")
POLL = 0.2  # seconds between the operator's store polls
RAW_UID = "Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk="
OPTED_OUT_EMAIL = "gone.pixel@example.com"
KEPT_EMAIL = "kept.pixel@example.com"


@dataclass(frozen=True)
class Key:
    site_id: int
    key: str
    secret: str


@dataclass
class Platform:
    home: Path
    env: dict[str, str]
    operator_url: str
    keys: dict[str, Key]

    def run(self, *args: str, json_output: bool = True) -> Any:
        done = subprocess.run(
            [UID2, *args, *(["--json"] if json_output else [])],
            env=self.env, capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return json.loads(done.stdout) if json_output else done.stdout


def start(args: list[str], env: dict[str, str], log: Path, health: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen([UID2, *args], env=env, stdout=out, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            return httpx.get(health, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually(healthy, timeout=30)
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("pixel-e2e")
    env = {**os.environ, "UID2_HOME": str(home)}
    for name in [n for n in env if n.startswith("UID2_PIXEL_")] + ["UID2_DATABASE_URL"]:
        env.pop(name, None)
    plane = Platform(home, env, "", {})
    plane.run("init", "--buckets", "64")
    for name, kind, roles in [
        ("Shop", "advertiser", "MAPPER,SHARER"),  # fires the pixels
        ("Stranger", "advertiser", "SHARER"),  # a sender nobody granted
        ("Bidder", "dsp", "SHARER"),  # its receiver sees a grant and a revoke
        ("Bidder Two", "dsp", "SHARER"),  # granted from the start
    ]:
        site = int(plane.run("participant", "create", name, "--type", kind)["site_id"])
        made = plane.run("apikey", "create", "--site", str(site), "--roles", roles)
        plane.keys[name] = Key(site, str(made["key"]), str(made["secret"]))
    grant = ["share", "grant", "--site", str(plane.keys["Shop"].site_id)]
    plane.run(*grant, "--to", str(plane.keys["Bidder Two"].site_id))
    port = free_port()
    operator = start(
        ["serve", "operator", "--port", str(port), "--poll-interval", str(POLL)],
        env, home / "operator.log", f"http://127.0.0.1:{port}/ops/healthcheck",
    )  # fmt: skip
    plane.operator_url = f"http://127.0.0.1:{port}"
    try:
        yield plane
    finally:
        stop(operator)


@dataclass
class Receiver:
    url: str
    db: str
    process: subprocess.Popen[bytes]

    def events(self) -> list[StoredEvent]:
        engine = open_engine(self.db)
        try:
            return list(EventStore(engine).events())
        finally:
            engine.dispose()

    def fire(self, client: httpx.Client | None = None, kind: str = "tracking",
             **fields: str) -> bool:  # fmt: skip
        """True if the pixel was answered with the GIF."""
        url = f"{self.url}/px/{kind}?{urlencode(fields)}"
        answer = client.get(url, timeout=10) if client else httpx.get(url, timeout=10)
        ok = answer.status_code == 200 and answer.content == GIF
        return ok and answer.headers["content-type"] == "image/gif"


def start_receiver(plane: Platform, name: str, db: Path, **env: str) -> Receiver:
    key, port = plane.keys[name], free_port()
    url = sqlite_url(db)
    process = start(
        ["serve", "pixel", "--operator", plane.operator_url, "--api-key", key.key,
         "--secret", key.secret, "--db", url, "--port", str(port)],
        {**plane.env, **env}, db.with_suffix(".log"), f"http://127.0.0.1:{port}/healthz",
    )  # fmt: skip
    return Receiver(f"http://127.0.0.1:{port}", url, process)


@pytest.fixture
def receivers(platform: Platform) -> Iterator[list[Receiver]]:
    """Receivers a test starts; stopped (if still running) when it ends."""
    started: list[Receiver] = []
    yield started
    for receiver in started:
        stop(receiver.process)


def sharing_client(plane: Platform, name: str) -> uid2.SharingClient:
    key = plane.keys[name]
    client = uid2.SharingClient(plane.operator_url, key.key, key.secret)
    assert client.refresh().success
    return client


def token_for(client: uid2.SharingClient, raw_uid: str) -> str:
    result = client.encrypt_raw_uid_into_token(raw_uid)
    assert result.success and result.encrypted_data is not None, result.status
    return result.encrypted_data


def test_a_grant_and_a_revoke_reach_the_receiver(
    platform: Platform, receivers: list[Receiver], tmp_path: Path
) -> None:
    shop, bidder = platform.keys["Shop"], platform.keys["Bidder"]
    receiver = start_receiver(platform, "Bidder", tmp_path / "bidder.db")
    receivers.append(receiver)
    with sharing_client(platform, "Shop") as sender:
        token = token_for(sender, RAW_UID)
    with sharing_client(platform, "Stranger") as stranger:
        stranger_token = token_for(stranger, RAW_UID)

    def shop_pixel() -> str:
        assert receiver.fire(uid2_token=token, ev="visit")
        event = receiver.events()[-1].event  # answered means committed
        assert event.raw_uid2 == (RAW_UID if event.status == "SUCCESS" else None)
        return event.status

    assert shop_pixel() == "NOT_AUTHORIZED_FOR_KEY"
    share = ["--site", str(shop.site_id), "--to", str(bidder.site_id)]

    platform.run("share", "grant", *share)
    granted_at = time.monotonic()
    eventually(lambda: shop_pixel() == "SUCCESS", timeout=15, every=0.1)
    # the operator polls every 0.2 s and the receiver refreshes on demand once a second
    assert time.monotonic() - granted_at < 5
    assert receiver.events()[-1].event.sender_site_id == shop.site_id

    platform.run("share", "revoke", *share)
    time.sleep(POLL * 3)  # the operator has it
    # The receiver's keys stay as of its last refresh: hourly, or on demand when a token
    # names a key it lacks. A token that still decrypts refreshes nothing...
    assert shop_pixel() == "SUCCESS"

    # ...but any token from a sender nobody granted does.
    def revoked() -> bool:
        assert receiver.fire(uid2_token=stranger_token, ev="other")
        return shop_pixel() == "NOT_AUTHORIZED_FOR_KEY"

    eventually(revoked, timeout=15, every=0.2)

    listing = platform.run("pixel", "events", "--event", "visit", "--db", receiver.db)
    statuses = [row["status"] for row in listing]
    assert statuses[0] == "NOT_AUTHORIZED_FOR_KEY" and statuses[-1] == "NOT_AUTHORIZED_FOR_KEY"
    assert "SUCCESS" in statuses
    assert {row["raw_uid2"] for row in listing} <= {RAW_UID, None}
    assert token not in json.dumps(listing)


def test_every_acknowledged_pixel_survives_kill_9(
    platform: Platform, receivers: list[Receiver], tmp_path: Path
) -> None:
    receiver = start_receiver(platform, "Bidder Two", tmp_path / "durable.db")
    receivers.append(receiver)
    with sharing_client(platform, "Shop") as sender:
        token = token_for(sender, RAW_UID)
    total, threads = 300, 6
    acknowledged: set[int] = set()
    sent: set[int] = set()
    lock = threading.Lock()
    half = threading.Event()

    def fire_some(first: int) -> None:
        with httpx.Client() as client:
            for n in range(first, total, threads):
                with lock:
                    sent.add(n)
                try:
                    ok = receiver.fire(client, uid2_token=token, ev="durable", n=str(n))
                except httpx.HTTPError:
                    ok = False
                if ok:
                    with lock:
                        acknowledged.add(n)
                        if len(acknowledged) >= total // 2:
                            half.set()

    workers = [threading.Thread(target=fire_some, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    assert half.wait(30), "the receiver answered too few pixels"
    receiver.process.kill()  # SIGKILL: no shutdown, no flush
    receiver.process.wait(timeout=10)
    for worker in workers:
        worker.join(30)
    assert not any(w.is_alive() for w in workers)

    stored = [int(json.loads(r.event.params)["n"]) for r in receiver.events()]
    assert len(stored) == len(set(stored))  # each pixel stored once
    assert acknowledged <= set(stored), sorted(acknowledged - set(stored))
    assert set(stored) <= sent
    assert total // 2 <= len(acknowledged) < total  # killed mid-stream
    assert {r.event.status for r in receiver.events()} == {"SUCCESS"}


def test_an_opt_out_purges_the_raw_uid_from_stored_events(
    platform: Platform, receivers: list[Receiver], tmp_path: Path
) -> None:
    shop = platform.keys["Shop"]
    mapper = uid2.IdentityMapV3Client(platform.operator_url, shop.key, shop.secret)
    try:
        mapped = mapper.generate_identity_map(
            uid2.IdentityMapV3Input.from_emails([OPTED_OUT_EMAIL, KEPT_EMAIL])
        )
    finally:
        mapper.close()
    assert mapped.is_success()
    gone = mapped.mapped_identities[OPTED_OUT_EMAIL].current_raw_uid
    kept = mapped.mapped_identities[KEPT_EMAIL].current_raw_uid

    platform.run("optout", "add", "--email", OPTED_OUT_EMAIL)
    bidder = platform.keys["Bidder Two"]
    status = OptOutStatusClient(platform.operator_url, bidder.key, bidder.secret)
    try:  # the operator has the opt-out once it has polled the store
        eventually(lambda: gone in status.opted_out([gone, kept]), timeout=10)
        assert kept not in status.opted_out([gone, kept])
    finally:
        status.close()

    receiver = start_receiver(platform, "Bidder Two", tmp_path / "optout.db",
                              UID2_PIXEL_OPTOUT_SWEEP_SECONDS="0.5")  # fmt: skip
    receivers.append(receiver)
    with sharing_client(platform, "Shop") as sender:
        gone_token, kept_token = token_for(sender, gone), token_for(sender, kept)
    assert receiver.fire(uid2_token=gone_token, ev="purchase")
    assert receiver.fire(uid2_token=kept_token, ev="purchase")
    first = [(r.event.status, r.event.raw_uid2) for r in receiver.events()]
    assert first[1] == ("SUCCESS", kept)
    assert first[0] in {("SUCCESS", gone), ("OPTED_OUT", None)}  # a sweep may already have run

    def purged() -> bool:
        return [(r.event.status, r.event.raw_uid2) for r in receiver.events()] == [
            ("OPTED_OUT", None),
            ("SUCCESS", kept),
        ]

    eventually(purged, timeout=10, every=0.1)
    assert receiver.fire(uid2_token=gone_token, ev="purchase")  # later events: no raw UID2
    assert receiver.events()[-1].event.status == "OPTED_OUT"
    assert receiver.events()[-1].event.raw_uid2 is None
    segment = platform.run("pixel", "segment", "--event", "purchase", "--db", receiver.db,
                           json_output=False)  # fmt: skip
    assert segment.split() == [kept]
    metrics = httpx.get(f"{receiver.url}/metrics").text
    assert "uid2_pixel_optout_purged_events_total" in metrics
