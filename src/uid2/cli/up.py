"""``uid2 up``: the whole stack on the embedded default, with a seeded demo.

It initialises the control plane under ``UID2_HOME``, seeds the demo once
(:mod:`uid2.cli.demo_seed`), starts the operator, the portal, two pixel receivers and the
opt-out webhook worker as child processes, serves the demo sites itself, prints every URL
and the demo logins, and stops everything on Ctrl-C. Running it again reuses the data.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

from uid2.cli.base import cli, runtime
from uid2.cli.demo_seed import load_or_seed
from uid2.store import sqlite_url
from uid2.store.location import StoreLocation

UID2 = str(Path(sys.executable).parent / "uid2")
START_TIMEOUT_S = 60.0
ALIVE_FOR_S = 1.0  # a child without a health URL is up once it stays alive that long


@dataclass(frozen=True, slots=True)
class Ports:
    base: int

    @property
    def operator(self) -> int:
        return self.base

    @property
    def portal(self) -> int:
        return self.base + 1

    @property
    def dsp_pixel(self) -> int:
        return self.base + 2

    @property
    def advertiser_pixel(self) -> int:
        return self.base + 3

    @property
    def demo(self) -> int:
        return self.base + 4

    @property
    def webhooks(self) -> int:
        return self.base + 5

    def all(self) -> tuple[int, ...]:
        return tuple(range(self.base, self.base + 6))


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    health_url: str | None
    log: Path
    started: float = field(default_factory=time.monotonic)


def _start(
    name: str, args: list[str], env: dict[str, str], health: str | None, logs: Path
) -> Child:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [UID2, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Child(name, process, health, log)


def _wait_healthy(children: list[Child]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    pending = list(children)
    while pending:
        for child in list(pending):
            if child.process.poll() is not None:
                raise click.ClickException(f"{child.name} stopped; see {child.log}")
            if child.health_url is None:
                if time.monotonic() - child.started >= ALIVE_FOR_S:
                    pending.remove(child)
                continue
            try:
                if httpx.get(child.health_url, timeout=1).status_code == 200:
                    pending.remove(child)
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            names = ", ".join(c.name for c in pending)
            raise click.ClickException(f"{names} did not become healthy; see {logs_of(pending)}")
        time.sleep(0.2)


def logs_of(children: list[Child]) -> str:
    return ", ".join(str(c.log) for c in children)


@contextmanager
def _supervised(children: list[Child]) -> Iterator[None]:
    try:
        yield
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.terminate()
        for child in children:
            try:
                child.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def _children(
    data: dict[str, Any], ports: Ports, home: Path, env: dict[str, str]
) -> list[tuple[str, list[str], dict[str, str], str | None]]:
    local = "http://127.0.0.1"
    operator = f"{local}:{ports.operator}"

    def receiver(port: int, who: str) -> list[str]:
        db = sqlite_url(home / f"pixel-{who}.db")
        return ["serve", "pixel", "--operator", operator, "--port", str(port), "--db", db]

    def credentials(key: dict[str, str]) -> dict[str, str]:
        # in the environment, not on the command line, where `ps` would show them
        return {**env, "UID2_PIXEL_API_KEY": key["key"], "UID2_PIXEL_SECRET": key["secret"]}

    keys = data["keys"]
    return [
        ("operator", ["serve", "operator", "--port", str(ports.operator), "--poll-interval", "1"],
         env, f"{operator}/ops/healthcheck"),
        ("portal", ["serve", "portal", "--port", str(ports.portal), "--dev"], env,
         f"{local}:{ports.portal}/healthz"),
        ("pixel-dsp", receiver(ports.dsp_pixel, "dsp"), credentials(keys["dsp_receiver"]),
         f"{local}:{ports.dsp_pixel}/healthz"),
        ("pixel-advertiser", receiver(ports.advertiser_pixel, "advertiser"),
         credentials(keys["advertiser_receiver"]), f"{local}:{ports.advertiser_pixel}/healthz"),
        ("webhooks", ["serve", "webhooks", "--poll-interval", "1",
                      "--metrics-port", str(ports.webhooks)], env,
         f"{local}:{ports.webhooks}/healthz"),
    ]  # fmt: skip


def _summary(data: dict[str, Any], ports: Ports, home: Path) -> str:
    lines = [
        "",
        "uid2 is up (Ctrl-C stops it; data stays in " + str(home) + ")",
        f"  operator          http://127.0.0.1:{ports.operator}",
        f"  portal            http://localhost:{ports.portal}",
        f"  DSP receiver      http://127.0.0.1:{ports.dsp_pixel}/px/tracking",
        f"  shop receiver     http://127.0.0.1:{ports.advertiser_pixel}/px/creative",
        f"  demo shop         http://localhost:{ports.demo}/shop   (tracking pixel)",
        f"  demo ad page      http://localhost:{ports.demo}/ad     (creative pixel)",
        f"  opt-out webhooks  http://127.0.0.1:{ports.webhooks}/metrics   (worker backlog)",
        "  portal logins:",
    ]
    for login in data["logins"]:
        password = login["password"] or "(unchanged; `uid2 user link EMAIL` for a new one)"
        lines.append(f"    {login['email']:<28} {password}")
    lines += [
        "  events:  uid2 pixel events --db " + sqlite_url(home / "pixel-dsp.db") + " --json",
        "",
    ]
    return "\n".join(lines)


@cli.command()
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65530),
    default=8080,
    show_default=True,
    help="Ports base..base+5: operator, portal, 2 receivers, demos, webhooks.",
)
def up(base_port: int) -> None:
    """Run the whole stack with a seeded demo (the embedded SQLite store under UID2_HOME)."""
    # SIGTERM must unwind like Ctrl-C, so that the children are stopped too
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ports = Ports(base_port)
    busy = [p for p in ports.all() if not _port_free(p)]
    if busy:
        raise click.ClickException(f"ports in use: {busy} (try --base-port)")
    location = StoreLocation.from_environ(os.environ)
    if location.database_url is not None:
        raise click.ClickException("uid2 up runs on the embedded store: unset UID2_DATABASE_URL")
    env = {**os.environ, "UID2_HOME": str(location.home.resolve())}
    subprocess.run([UID2, "init", "--json"], env=env, check=True, capture_output=True)
    with runtime(None) as rt:
        data = load_or_seed(rt)
    home = location.home.resolve()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    try:
        with _supervised(children):
            for name, args, child_env, health in _children(data, ports, home, env):
                children.append(_start(name, args, child_env, health, logs))
            _wait_healthy(children)
            _serve_demo(data, ports, home, lambda: click.echo(_summary(data, ports, home)))
    except KeyboardInterrupt:  # Ctrl-C while starting: the children are stopped already
        click.echo("stopped", err=True)
        sys.exit(130)


def _serve_demo(
    data: dict[str, Any], ports: Ports, home: Path, announce: Callable[[], None]
) -> None:
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        """Says "up" only once the demo sites listen, the last part to start."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                announce()

    from uid2.pixel.demo_site import ShopConfig, create_demo_app
    from uid2.pixel.store import EventStore, ensure_schema, open_engine
    from uid2.sdk import SharingClient

    operator = f"http://127.0.0.1:{ports.operator}"
    dsp_key = data["keys"]["dsp_receiver"]
    dsp = SharingClient(operator, dsp_key["key"], dsp_key["secret"])
    dsp.refresh()
    dsp.start_auto_refresh()
    engine = open_engine(sqlite_url(home / "pixel-dsp.db"))
    ensure_schema(engine)
    events = EventStore(engine)

    app = create_demo_app(
        ShopConfig(operator, data["cstg"]["subscription_id"], data["cstg"]["public_key"],
                   f"http://127.0.0.1:{ports.dsp_pixel}/px/tracking"),
        f"http://127.0.0.1:{ports.advertiser_pixel}/px/creative?ev=impression"
        "&uid2_token={UID2_TOKEN}",
        events.latest_raw_uid,
        lambda raw_uid: dsp.encrypt_raw_uid_into_token(raw_uid).encrypted_data,
    )  # fmt: skip
    config = uvicorn.Config(app, host="127.0.0.1", port=ports.demo, log_level="warning")
    try:
        AnnouncingServer(config).run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled: stopping is what was asked
    finally:
        dsp.close()
        engine.dispose()
