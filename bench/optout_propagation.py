"""Benchmark: how long an opt-out takes to reach every operator process (issues 8 and 9).

Builds a control plane with the CLI, starts two `uid2 serve operator` processes on one SQLite
database (default settings: a 1 s store poll), records opt-outs through the admin use case and
times, for each operator, how long until `/v3/identity/map` answers `optout` for that email.
Reports p50 and max per operator over N opt-outs. Traffic goes only to 127.0.0.1.

    python bench/optout_propagation.py [--count N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from operator_load import Credentials, _cli, _free_port, _site, _start_operator

import uid2
from uid2.admin import Context, RecordOptOut, record_optout, system_entropy
from uid2.core.enums import IdentityType
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine
from uid2.store.location import StoreLocation

POLL_EVERY = 0.05
DEFAULT_POLL_SECONDS = 1.0
TIMEOUT = 30.0


def _opted_out(client: uid2.IdentityMapV3Client, email: str) -> bool:
    response = client.generate_identity_map(uid2.IdentityMapV3Input.from_emails([email]))
    return email in response.unmapped_identities


def _record(home: Path, email: str) -> float:
    location = StoreLocation.from_environ({"UID2_HOME": str(home)})
    kek = location.kek()
    assert kek is not None
    engine = make_engine(location.url())
    try:
        ctx = Context(time.time_ns() // 1_000_000, "bench", system_entropy())
        record_optout(
            RecordOptOut(IdentityType.Email, email),
            SqlAlchemyUnitOfWork(engine, SecretBox(kek)),
            ctx,
        )
        return time.monotonic()  # committed: the clock starts now
    finally:
        engine.dispose()


def _time_to_optout(
    clients: list[uid2.IdentityMapV3Client], email: str, start: float
) -> list[float]:
    seen: list[float | None] = [None] * len(clients)
    while None in seen and time.monotonic() - start < TIMEOUT:
        for index, client in enumerate(clients):
            if seen[index] is None and _opted_out(client, email):
                seen[index] = time.monotonic() - start
        time.sleep(POLL_EVERY)
    if None in seen:
        raise RuntimeError(f"an operator did not see the opt-out within {TIMEOUT} s")
    return [s for s in seen if s is not None]


def run(count: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _cli(home, "init", "--buckets", "4096")
        mapper: Credentials = _site(home, "Bench advertiser", "advertiser", "MAPPER")
        ports = [_free_port(), _free_port()]
        servers = [_start_operator(home, port, workers=1) for port in ports]
        clients = [
            uid2.IdentityMapV3Client(f"http://127.0.0.1:{p}", mapper.key, mapper.secret)
            for p in ports
        ]
        try:
            times: list[list[float]] = []
            for i in range(count):
                email = f"optout.bench{i}@example.com"
                assert not any(_opted_out(c, email) for c in clients)
                # a random phase against the operators' poll timers, else every sample
                # lands at the same point of their poll cycle
                time.sleep(random.uniform(0, DEFAULT_POLL_SECONDS))
                times.append(_time_to_optout(clients, email, _record(home, email)))
        finally:
            for client in clients:
                client.close()
            for server in servers:
                server.terminate()
                server.wait(timeout=20)
    return _render(times)


def _render(times: list[list[float]]) -> str:
    lines = ["| operator | p50 s | max s |", "|---|---|---|"]
    for index in range(len(times[0])):
        column = [row[index] for row in times]
        lines.append(
            f"| operator {index + 1} | {statistics.median(column):.2f} | {max(column):.2f} |"
        )
    everywhere = [max(row) for row in times]
    lines.append(
        f"| every operator | {statistics.median(everywhere):.2f} | {max(everywhere):.2f} |"
    )
    return "\n".join(lines) + (
        f"\n\n{len(times)} opt-outs, default {DEFAULT_POLL_SECONDS:g} s store poll; target <= 5 s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    print(run(max(1, parser.parse_args().count)))


if __name__ == "__main__":
    main()
