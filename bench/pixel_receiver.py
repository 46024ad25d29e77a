"""Benchmark: the pixel receiver, `uid2 serve pixel --workers 2`, with durable storage on SQLite
and on PostgreSQL (issue 7). Target: >= 3,000 pixels/s with p99 <= 50 ms on 2 cores.

A throw-away control plane (advertiser sender, DSP receiver, a grant) and `uid2 serve operator`
give the receiver its keys. wrk (a second process, 127.0.0.1 only) replays one tracking pixel
with a valid token; every answer is sent only after its event is committed. Each run is paired
with a run against a path the same server answers without work (404), as the baseline:
three pairs per store, the median pair reported. The stored row count is checked against the
answers wrk counted.

    python bench/pixel_receiver.py [--seconds S] [--connections C]

Needs `wrk`; PostgreSQL is measured when UID2_TEST_POSTGRES_URL (or --postgres URL) is set.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from operator_load import UID2, _cli, _free_port, _ms
from sqlalchemy import create_engine, text

from uid2.store import sqlite_url

ROUNDS = 3
RAW_UID = "Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk="


def _wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": p50, "p99": p99, "requests": requests,
            "errors": int(errors.group(1)) if errors else 0}  # fmt: skip


def _control_plane(home: Path) -> tuple[dict[str, object], dict[str, object]]:
    _cli(home, "init", "--buckets", "1024")
    adv = _cli(home, "participant", "create", "Bench shop", "--type", "advertiser")
    dsp = _cli(home, "participant", "create", "Bench DSP", "--type", "dsp")
    sender = _cli(home, "apikey", "create", "--site", str(adv["site_id"]), "--roles", "SHARER")
    receiver = _cli(home, "apikey", "create", "--site", str(dsp["site_id"]), "--roles", "SHARER")
    _cli(home, "share", "grant", "--site", str(adv["site_id"]), "--to", str(dsp["site_id"]))
    return sender, receiver


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server stopped")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _serve(args: list[str], env: dict[str, str], health: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([UID2, *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    _wait(health, process)
    return process


def _count(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text("SELECT count(*) FROM pixel_events")) or 0)
    finally:
        engine.dispose()


def _measure_store(
    name: str, db_url: str, env: dict[str, str], operator: str, receiver: dict[str, object],
    token: str, seconds: int, connections: int,
) -> dict[str, float]:  # fmt: skip
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["serve", "pixel", "--operator", operator, "--port", str(port), "--workers", "2",
            "--db", db_url, "--api-key", str(receiver["key"]),
            "--secret", str(receiver["secret"])]  # fmt: skip
    server = _serve(args, env, base + "/healthz")
    pixel = f"{base}/px/tracking?ev=purchase&order=1&uid2_token={token}"
    try:
        _wrk(pixel, 2, connections)  # warm-up (keys fetched, pages cached), discarded
        before = _count(db_url)
        pairs, answered = [], 0
        for _ in range(ROUNDS):
            baseline = _wrk(base + "/baseline-404", seconds, connections)
            measured = _wrk(pixel, seconds, connections)
            if measured["errors"]:
                raise RuntimeError(f"{name}: {measured['errors']} error answers")
            answered += int(measured["requests"])
            pairs.append({**measured, "base_rps": baseline["rps"]})
        time.sleep(0.5)
        stored = _count(db_url) - before
    finally:
        server.terminate()
        server.wait(timeout=30)
    pairs.sort(key=lambda p: p["rps"] / p["base_rps"])
    return {**pairs[len(pairs) // 2], "answered": answered, "stored": stored}


def _postgres_database(url: str) -> str:
    """A fresh schema on the server at ``url`` (dropped by the caller)."""
    from sqlalchemy.engine import make_url

    schema = f"uid2_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def _drop(url: str) -> None:
    schema = re.search(r"search_path%3D(\w+)|search_path=(\w+)", url)
    if schema is None:
        return
    name = schema.group(1) or schema.group(2)
    engine = create_engine(url.split("?")[0])
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()


def run(seconds: int, connections: int, postgres: str | None) -> str:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    from uid2 import SharingClient

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "UID2_HOME": str(home)}
        env.pop("UID2_DATABASE_URL", None)
        sender, receiver = _control_plane(home)
        op_port = _free_port()
        operator = f"http://127.0.0.1:{op_port}"
        op = _serve(
            ["serve", "operator", "--port", str(op_port)], env, operator + "/ops/healthcheck"
        )
        try:
            client = SharingClient(operator, str(sender["key"]), str(sender["secret"]))
            assert client.refresh().success
            token = client.encrypt_raw_uid_into_token(RAW_UID).encrypted_data
            assert token is not None
            stores = {"SQLite (WAL)": sqlite_url(home / "pixel.db")}
            if postgres:
                stores["PostgreSQL"] = _postgres_database(postgres)
            for name, url in stores.items():
                try:
                    results[name] = _measure_store(name, url, env, operator, receiver, token,
                                                   seconds, connections)  # fmt: skip
                finally:
                    if name == "PostgreSQL":
                        _drop(url)
        finally:
            op.terminate()
            op.wait(timeout=20)
    return _render(results, connections)


def _render(results: dict[str, dict[str, float]], connections: int) -> str:
    lines = [
        f"2 workers, {connections} connections; every answer waits for its event's commit",
        "",
        "| store | pixels/s | vs a 404 on the same server | p50 ms | p99 ms | answered | stored |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['rps']:,.0f} | {r['rps'] / r['base_rps']:.0%} of {r['base_rps']:,.0f}"
            f" | {r['p50']:.2f} | {r['p99']:.2f} | {r['answered']:,} | {r['stored']:,} |"
        )
        met = r["rps"] >= 3000 and r["p99"] <= 50 and r["stored"] >= r["answered"]
        verdicts.append(f"{name}: {'met' if met else 'MISSED'}")
    lines += ["", "target (>= 3,000 pixels/s, p99 <= 50 ms, every answered pixel stored): "
              + "; ".join(verdicts)]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per run; 3 pairs per store")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--postgres", default=os.environ.get("UID2_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    print(run(args.seconds, args.connections, args.postgres))


if __name__ == "__main__":
    main()
