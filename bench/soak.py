"""Soak test: a fixed request rate over generate, refresh, map and pixels for N minutes (issue 9).

Builds a throw-away platform with the `uid2` CLI in a temporary UID2_HOME (SQLite files, or
PostgreSQL with --db: fresh schemas, dropped after), starts `uid2 serve operator` and
`uid2 serve pixel` on free 127.0.0.1 ports, and sends, open loop, one request every 1/rate s in
turn: /v2/token/generate, /v2/token/refresh (of tokens it generated), /v3/identity/map and a
tracking pixel carrying a sharing token. A bounded pool of sender threads sends them; a slot
that comes while every sender is busy is not sent and counts as an error ("missed"). Every few
seconds it prints the progress and each server's RSS (the process and its workers).

At the end it prints, and writes to bench/results/soak-latest.md, the requests, errors and
p50/p99 latency per kind and, per server, the median RSS of the first and last quarters of the
run after warm-up. Exit status 1 if any request failed or memory grew more than 10 %; 130 if
interrupted (Ctrl-C or SIGTERM: traffic stops, then the servers, cleanly).

    python bench/soak.py [--minutes N | --seconds S] [--rate R] [--db POSTGRES_URL]

The requests are in soak_traffic.py; the tally, memory sampling, verdict and report in
soak_report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from operator_load import UID2, Credentials, _free_port
from pixel_receiver import _drop, _postgres_database, _wait
from run_all import machine
from soak_report import KINDS, Sample, Summary, Tally, progress_line, render, take_sample
from soak_traffic import MAP_BATCH, Traffic, error_kind

from uid2.pixel.store import EventStore, open_engine
from uid2.store import sqlite_url

HERE = Path(__file__).resolve().parent
LATE_AFTER = 0.05  # seconds after its slot a send counts as late
STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Plan:
    seconds: float
    rate: float
    kinds: tuple[str, ...]  # sent in turn, one per slot
    workers: int  # uvicorn workers per server
    senders: int  # client threads: the most requests in flight at once
    sample_every: float
    db: str | None
    out: Path
    json_out: Path | None

    @property
    def slots(self) -> int:
        return max(1, int(self.seconds * self.rate))

    @property
    def store(self) -> str:
        return "PostgreSQL" if self.db else "SQLite"


@dataclass(frozen=True)
class Platform:
    operator_url: str
    pixel_url: str
    pixel_db: str
    publisher: Credentials  # GENERATOR: generates and refreshes tokens
    advertiser: Credentials  # MAPPER and SHARER: maps emails, sends pixels
    advertiser_site: int
    servers: dict[str, subprocess.Popen[bytes]]


# ---- the platform ------------------------------------------------------------------------


def _uid2(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [UID2, *args, "--json"], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _participant(env: dict[str, str], name: str, kind: str, roles: str) -> tuple[int, Credentials]:
    site = int(str(_uid2(env, "participant", "create", name, "--type", kind)["site_id"]))
    key = _uid2(env, "apikey", "create", "--site", str(site), "--roles", roles)
    return site, Credentials(str(key["key"]), str(key["secret"]))


def _start(args: list[str], env: dict[str, str], log: Path, health: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # its own session: a Ctrl-C reaches only this script, which stops traffic first
        server = subprocess.Popen(
            [UID2, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait(health, server)
    except BaseException:
        _stop(server)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"`uid2 {args[0]} {args[1]}` did not start:\n{tail}") from None
    return server


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # its own group: the server and its workers
            server.wait(timeout=STOP_TIMEOUT)


def _clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without its UID2 settings, so only this platform is used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UID2_")}
    return {**env, "UID2_HOME": str(home)}


@contextmanager
def _databases(home: Path, postgres: str | None) -> Iterator[tuple[str | None, str]]:
    """(control-plane URL, None for the default SQLite file; pixel event store URL)."""
    if postgres is None:
        yield None, sqlite_url(home / "pixel.db")
        return
    control, pixel = _postgres_database(postgres), _postgres_database(postgres)
    try:
        yield control, pixel
    finally:
        _drop(control)
        _drop(pixel)


def _control_plane(env: dict[str, str]) -> tuple[Credentials, int, Credentials, Credentials]:
    """(publisher, advertiser site, advertiser, DSP); the advertiser shares with the DSP."""
    _uid2(env, "init", "--buckets", "1024")
    _, publisher = _participant(env, "Soak publisher", "publisher", "GENERATOR")
    adv_site, advertiser = _participant(env, "Soak advertiser", "advertiser", "MAPPER,SHARER")
    dsp_site, dsp = _participant(env, "Soak DSP", "dsp", "SHARER")
    _uid2(env, "share", "grant", "--site", str(adv_site), "--to", str(dsp_site))
    return publisher, adv_site, advertiser, dsp


@contextmanager
def platform(plan: Plan, home: Path) -> Iterator[Platform]:
    """The control plane and both servers, stopped (receiver first) when the block ends."""
    with _databases(home, plan.db) as (control_db, pixel_db), ExitStack() as stack:
        env = _clean_env(home) | ({"UID2_DATABASE_URL": control_db} if control_db else {})
        publisher, adv_site, advertiser, dsp = _control_plane(env)
        workers = ["--workers", str(plan.workers)]
        op_port, px_port = _free_port(), _free_port()
        operator_url, pixel_url = f"http://127.0.0.1:{op_port}", f"http://127.0.0.1:{px_port}"
        operator_args = ["serve", "operator", "--port", str(op_port), *workers]
        operator = _start(
            operator_args, env, home / "operator.log", f"{operator_url}/ops/healthcheck"
        )
        stack.callback(_stop, operator)
        # the receiver's key in its environment: a command line is readable by every user
        keys = {"UID2_PIXEL_API_KEY": dsp.key, "UID2_PIXEL_SECRET": dsp.secret}
        pixel_args = ["serve", "pixel", "--operator", operator_url, "--port", str(px_port)]
        pixel_args += ["--db", pixel_db, *workers]
        receiver = _start(pixel_args, env | keys, home / "pixel.log", f"{pixel_url}/healthz")
        stack.callback(_stop, receiver)  # callbacks run last first: it polls the operator
        servers = {"operator": operator, "pixel": receiver}
        yield Platform(operator_url, pixel_url, pixel_db, publisher, advertiser, adv_site, servers)


# ---- the schedule ------------------------------------------------------------------------


def _send(action: Callable[[], float], kind: str, tally: Tally, free: threading.Semaphore) -> None:
    try:
        tally.succeeded(kind, action())
    except Exception as exc:  # every failure is counted; none stops the soak
        tally.failed(kind, error_kind(exc))
    finally:
        free.release()


def drive(plan: Plan, traffic: Traffic, tally: Tally, start: float) -> None:
    """One slot every 1/rate s from ``start``, whatever the answers do (open loop)."""
    actions = {kind: getattr(traffic, kind) for kind in plan.kinds}
    free = threading.Semaphore(plan.senders)
    with ThreadPoolExecutor(plan.senders, thread_name_prefix="soak") as pool:
        for slot in range(plan.slots):
            due = start + slot / plan.rate
            time.sleep(max(0.0, due - time.monotonic()))
            kind = plan.kinds[slot % len(plan.kinds)]
            if not free.acquire(blocking=False):
                tally.failed(kind, "missed (every sender busy)")
                continue
            tally.dispatched(kind, time.monotonic() - due > LATE_AFTER)
            pool.submit(_send, actions[kind], kind, tally, free)


def sample_memory(
    plan: Plan,
    servers: dict[str, int],
    tally: Tally,
    start: float,
    stop: threading.Event,
    samples: list[Sample],
) -> None:
    """Every ``plan.sample_every`` s until ``stop``: each server's RSS and a progress line."""
    for index in range(int(plan.seconds / plan.sample_every) + 2):
        if stop.wait(max(0.0, start + index * plan.sample_every - time.monotonic())):
            return
        samples.append(take_sample(time.monotonic() - start, servers))
        print(progress_line(samples[-1], tally), flush=True)


# ---- after the traffic -------------------------------------------------------------------


def check_pixels(plat: Platform, tally: Tally) -> None:
    """Every answered pixel must be stored, decrypted, as the advertiser's (the receiver
    answers only after its event's commit, so there is nothing to wait for)."""
    engine = open_engine(plat.pixel_db)
    try:
        rows = EventStore(engine).stats()
    finally:
        engine.dispose()
    expected = (plat.advertiser_site, "SUCCESS")
    decrypted = sum(n for site, status, n in rows if (site, status) == expected)
    if tally.ok["pixel"] > decrypted:
        tally.failed("pixel", "answered but not stored", tally.ok["pixel"] - decrypted)
    for site, status, count in rows:
        if (site, status) != expected:
            tally.failed("pixel", f"stored as {status} from site {site}", count)


def check_servers(plat: Platform, tally: Tally) -> None:
    for name, server in plat.servers.items():
        if server.poll() is not None:
            tally.failed(name, f"exited with status {server.returncode}")


# ---- the run -----------------------------------------------------------------------------


def _traffic_phase(
    plan: Plan, plat: Platform, tally: Tally, samples: list[Sample]
) -> tuple[float, bool]:
    """Sends the planned traffic while sampling memory: (seconds it took, interrupted?)."""
    traffic = Traffic(
        plat.operator_url, plat.pixel_url, plat.publisher, plat.advertiser, plan.senders
    )
    stop = threading.Event()
    pids = {name: server.pid for name, server in plat.servers.items()}
    try:
        traffic.seed()
        start = time.monotonic()
        sampler = threading.Thread(
            target=sample_memory, args=(plan, pids, tally, start, stop, samples), daemon=True
        )
        sampler.start()
        interrupted = False
        try:
            drive(plan, traffic, tally, start)  # returns once the last request is answered
        except KeyboardInterrupt:
            print("interrupted: stopping the traffic, then the servers", flush=True)
            interrupted = True
        stop.set()
        sampler.join(timeout=STOP_TIMEOUT)
        return time.monotonic() - start, interrupted
    finally:
        traffic.close()


def run(plan: Plan) -> Summary:
    tally = Tally()
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="uid2-soak-") as tmp, platform(plan, Path(tmp)) as p:
        print(
            f"soak: {plan.rate:g} requests/s for {plan.seconds:g} s on {plan.store}; "
            f"operator {p.operator_url}, pixel receiver {p.pixel_url}",
            flush=True,
        )
        seconds, interrupted = _traffic_phase(plan, p, tally, samples)
        samples.append(take_sample(seconds, {n: s.pid for n, s in p.servers.items()}))
        check_servers(p, tally)
        check_pixels(p, tally)
    setup = (
        f"{plan.rate:g} requests/s ({', '.join(plan.kinds)} in turn; {MAP_BATCH} emails per map)"
        f", {plan.store}, {plan.workers} worker(s) per server, {plan.senders} senders"
    )
    return Summary(setup, seconds, interrupted, tally, samples)


def write_results(plan: Plan, summary: Summary, text: str) -> None:
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}"
    command = " ".join(["python bench/soak.py", *sys.argv[1:]])
    plan.out.parent.mkdir(parents=True, exist_ok=True)
    plan.out.write_text(f"# Soak test\n\n{when}\n\n`{command}`\n\n{text}\n")
    if plan.json_out is not None:
        plan.json_out.write_text(json.dumps(summary.as_json(), indent=1))


def parse(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s, all kinds")
    parser.add_argument("--kinds", default=",".join(KINDS), help="a subset, to find a leak")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, default=10.0)
    length.add_argument("--seconds", type=float, help="instead of --minutes, for short runs")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server")
    parser.add_argument("--senders", type=int, default=64, help="client threads")
    parser.add_argument("--sample-every", type=float, help="seconds (default: 1/30 of the run)")
    parser.add_argument("--db", help="a PostgreSQL URL (default: SQLite files in the temp home)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "soak-latest.md")
    parser.add_argument("--json", type=Path, dest="json_out", help="also write figures as JSON")
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not kinds or not set(kinds) <= set(KINDS):
        parser.error(f"--kinds: a comma-separated subset of {', '.join(KINDS)}")
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    if not (0 < seconds <= 86_400 and 0 < args.rate <= 2_000 and 1 <= args.senders <= 512):
        parser.error("want 0 < duration <= 24 h, 0 < rate <= 2000/s, 1 <= senders <= 512")
    if not 1 <= args.workers <= 64:
        parser.error("want 1 <= workers <= 64")
    every = args.sample_every or min(10.0, max(0.5, seconds / 30))
    return Plan(
        seconds,
        args.rate,
        kinds,
        args.workers,
        args.senders,
        every,
        args.db,
        args.out,
        args.json_out,
    )


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the soak as Ctrl-C does


def main() -> int:
    plan = parse()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run(plan)
    except KeyboardInterrupt:  # outside the traffic phase: the platform is torn down all the same
        print("interrupted; the servers are stopped", file=sys.stderr)
        return 130
    text = render(summary)
    print("\n" + text, flush=True)
    write_results(plan, summary, text)
    return 130 if summary.interrupted else 0 if summary.passed else 1


if __name__ == "__main__":
    sys.exit(main())
