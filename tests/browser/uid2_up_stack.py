"""`uid2 up` as a subprocess for the browser tests: started on five free ports with its own
UID2_HOME, waited for until it prints "uid2 is up", stopped with SIGINT (Ctrl-C) and checked
for leftover `uid2 serve` children through /proc (Linux; psutil is not a dependency)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from uid2.store import sqlite_url

UID2 = str(Path(sys.executable).parent / "uid2")
START_TIMEOUT_S = 90.0  # the first run initialises 65,536 salt buckets
STOP_TIMEOUT_S = 20.0
# Ctrl-C is how `uid2 up` is meant to stop: 0, or 128 + SIGINT like its SIGTERM path
CLEAN_EXITS = (0, 128 + signal.SIGINT)
UP_BANNER = "uid2 is up"
CHILDREN = 5  # operator, portal, two pixel receivers, the webhook worker


def _port_free(port: int) -> bool:
    """As `uid2 up` checks it (SO_REUSEADDR: a port in TIME_WAIT counts as free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_base_port(tries: int = 50) -> int:
    """A base port in 20000-40000 whose six ports (base..base+5) are all free."""
    for _ in range(tries):
        base = random.randint(20_000, 39_995)
        if all(_port_free(port) for port in range(base, base + 6)):
            return base
    raise RuntimeError(f"no five free ports in 20000-40000 after {tries} tries")


def processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) for every process /proc shows."""
    table: dict[int, tuple[int, str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:  # gone in the meantime
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        table[int(entry.name)] = (int(ppid), state, cmdline.replace(b"\0", b" ").decode().strip())
    return table


def up_env(home: Path) -> dict[str, str]:
    """The environment minus every UID2_ variable (so no UID2_DATABASE_URL), plus UID2_HOME."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("UID2_")}
    env["UID2_HOME"] = str(home)
    return env


def uid2_json(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run(
        [UID2, *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise AssertionError(f"uid2 {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout)


@dataclass
class UpStack:
    """`uid2 up --base-port base` on ``home``; ``logs`` holds each run's stdout and stderr."""

    home: Path
    logs: Path
    base: int
    runs: int = 0
    process: subprocess.Popen[bytes] | None = None
    children: dict[int, str] = field(default_factory=dict)  # pid -> command line
    banner_s: float = 0.0  # seconds from the start to "uid2 is up"
    ready_gap_s: float = 0.0  # seconds from the banner to the demo sites answering

    # --- where things are --------------------------------------------------------------------

    @property
    def operator_url(self) -> str:
        return f"http://127.0.0.1:{self.base}"

    @property
    def portal_url(self) -> str:
        return f"http://localhost:{self.base + 1}"

    @property
    def demo_url(self) -> str:
        return f"http://localhost:{self.base + 4}"

    @property
    def receiver_hosts(self) -> tuple[str, str]:
        return f"127.0.0.1:{self.base + 2}", f"127.0.0.1:{self.base + 3}"

    @property
    def dsp_db(self) -> str:
        return sqlite_url(self.home / "pixel-dsp.db")

    @property
    def advertiser_db(self) -> str:
        return sqlite_url(self.home / "pixel-advertiser.db")

    @property
    def env(self) -> dict[str, str]:
        return up_env(self.home)

    def demo(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.home / "demo.json").read_text())
        return data

    def stdout(self) -> str:
        return (self.logs / f"up-{self.runs}.out").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.logs / f"up-{self.runs}.err").read_text(errors="replace")

    def _diagnostics(self) -> str:
        child_logs = ""
        for log in sorted((self.home / "logs").glob("*.log")):
            child_logs += f"\n--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
        return f"\n--- stdout\n{self.stdout()}\n--- stderr\n{self.stderr()}{child_logs}"

    # --- start and stop ----------------------------------------------------------------------

    def start(self) -> float:
        """Starts `uid2 up` and waits for its banner; returns the seconds it took."""
        assert self.process is None, "already running"
        self.runs += 1
        began = time.monotonic()
        with (
            (self.logs / f"up-{self.runs}.out").open("wb") as out,
            (self.logs / f"up-{self.runs}.err").open("wb") as err,
        ):
            self.process = subprocess.Popen(
                [UID2, "up", "--base-port", str(self.base)], env=self.env, stdout=out, stderr=err
            )
        deadline = began + START_TIMEOUT_S
        while UP_BANNER not in self.stdout():
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise AssertionError(f"uid2 up exited with {code}:{self._diagnostics()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no {UP_BANNER!r} in {START_TIMEOUT_S:.0f} s:"
                                     f"{self._diagnostics()}")  # fmt: skip
            time.sleep(0.1)
        self.banner_s = time.monotonic() - began
        # The banner comes just before the demo sites listen (`uid2 up` prints it, then starts
        # their uvicorn): a Ctrl-C in that gap exits 1 or 3, a request is refused. Wait it out.
        self.ready_gap_s = self._wait_demo_ready()
        self.children = self._children_now()
        return time.monotonic() - began

    def _children_now(self) -> dict[int, str]:
        assert self.process is not None
        pid = self.process.pid
        return {child: cmd for child, (ppid, _, cmd) in processes().items() if ppid == pid}

    def _wait_demo_ready(self, timeout_s: float = 10.0) -> float:
        began = time.monotonic()
        while True:
            try:
                if httpx.get(self.demo_url + "/", timeout=1).status_code == 200:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            if time.monotonic() - began > timeout_s:
                self.kill()
                raise AssertionError(f"the demo sites did not answer {timeout_s:.0f} s after "
                                     f"the banner:{self._diagnostics()}")  # fmt: skip
            time.sleep(0.02)

    def stop(self) -> tuple[int, float]:
        """SIGINT, as Ctrl-C sends it; returns (exit code, seconds to exit)."""
        assert self.process is not None, "not running"
        began = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"uid2 up did not exit within {STOP_TIMEOUT_S:.0f} s of SIGINT"
            ) from None
        self.process = None
        return code, time.monotonic() - began

    def leftovers(self, grace_s: float = 5.0) -> dict[int, str]:
        """The children of the last run (or any `uid2 serve` on our ports) still alive after a
        short grace period; zombies count as gone."""
        ports = {str(port) for port in range(self.base, self.base + 6)}
        deadline = time.monotonic() + grace_s
        while True:
            alive = {}
            for pid, (_, state, cmd) in processes().items():
                if state == "Z":
                    continue
                ours = self.children.get(pid) == cmd
                words = cmd.split()
                serving_here = "serve" in words and bool(ports & set(words))
                if ours or (serving_here and UID2 in cmd):
                    alive[pid] = cmd
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.1)

    def kill(self) -> None:
        """Last resort after a failure: SIGKILL `uid2 up` and the children it started (by pid)."""
        if self.process is not None and self.process.poll() is None:
            self.children |= self._children_now()
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        table = processes()
        for pid, cmd in self.children.items():
            if pid in table and table[pid][2] == cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # --- the printed summary -----------------------------------------------------------------

    def printed_url(self, name: str) -> str:
        match = re.search(rf"^\s*{re.escape(name)}\s+(https?://\S+)", self.stdout(), re.M)
        assert match, f"no {name} URL in the summary:\n{self.stdout()}"
        return match.group(1)

    def printed_logins(self) -> dict[str, str]:
        """email -> password, from the lines under "portal logins:"."""
        _, _, rest = self.stdout().partition("portal logins:")
        logins = {}
        for line in rest.splitlines()[1:]:
            match = re.fullmatch(r"\s{4}(\S+@\S+)\s+(\S+)\s*", line)
            if not match:
                break
            logins[match.group(1)] = match.group(2)
        return logins

    def printed_events_db(self) -> str:
        match = re.search(r"uid2 pixel events --db (\S+) --json", self.stdout())
        assert match, f"no events command in the summary:\n{self.stdout()}"
        return match.group(1)

    # --- the receivers' events ---------------------------------------------------------------

    def events(self, db: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = uid2_json(self.env, "pixel", "events", "--db", db)
        return rows

    def wait_for_events(
        self,
        db: str,
        wanted: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
        timeout_s: float = 20.0,
    ) -> list[dict[str, Any]]:
        """Polls `uid2 pixel events` until ``wanted(rows)`` is non-empty; returns it."""
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.events(db)
            found = wanted(rows)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no such event in {timeout_s:.0f} s; the events: {rows}")
            time.sleep(0.3)
