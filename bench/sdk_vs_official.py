"""Benchmark: our SDK against the official one (uid2-client 2.9.0), in one process.

Both decrypt the same v2, v3 and v4 tokens and encrypt the same raw UID2 with the same keys.
Implementations are interleaved inside each round; each measurement is a batch sized to take
about BATCH_SECONDS, and the median of ROUNDS rounds is reported. Prints ops/s and the ratio.

    python bench/sdk_vs_official.py [--rounds N] [--batch-seconds S]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import uid2_client as official
from uid2_client import EncryptionKey, Params, UID2TokenGenerator

import uid2

MASTER_SECRET = base64.b64decode("iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs=")
SITE_SECRET = base64.b64decode("IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=")
RAW_UID = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
SITE_ID = 9000
CREDS = ("http://127.0.0.1:9", "bench-key", base64.b64encode(bytes(32)).decode())
TARGETS = {"decrypt v2": 4.0, "decrypt v3": 25.0, "decrypt v4": 25.0, "sharing encrypt": 25.0}


def _keys() -> tuple[EncryptionKey, EncryptionKey, str]:
    now = datetime.now(UTC)
    created, expires = now - timedelta(days=1), now + timedelta(days=365)
    master = EncryptionKey(164, -1, created, created, expires, MASTER_SECRET, keyset_id=9999999)
    site = EncryptionKey(165, SITE_ID, created, created, expires, SITE_SECRET, keyset_id=99999)
    entries = [
        {
            "id": k.key_id,
            "keyset_id": k.keyset_id,
            "created": int(created.timestamp()),
            "activates": int(created.timestamp()),
            "expires": int(expires.timestamp()),
            "secret": base64.b64encode(k.secret).decode(),
        }
        for k in (master, site)
    ]
    body = {
        "caller_site_id": SITE_ID,
        "master_keyset_id": 9999999,
        "default_keyset_id": 99999,
        "token_expiry_seconds": "2592000",
        "identity_scope": "UID2",
        "keys": entries,
    }
    return master, site, json.dumps({"body": body})


@dataclass
class Case:
    name: str
    ours: Callable[[], object]
    theirs: Callable[[], object]


def _cases() -> list[Case]:
    master, site, response = _keys()
    ours_b, theirs_b = uid2.BidstreamClient(*CREDS), official.BidstreamClient(*CREDS)
    ours_s, theirs_s = uid2.SharingClient(*CREDS), official.SharingClient(*CREDS)
    for client in (ours_b, ours_s):
        client.refresh_json(response)
    for client in (theirs_b, theirs_s):
        client._refresh_json(response)
    params = Params(expiry=datetime.now(UTC) + timedelta(hours=1))
    tokens = {
        2: UID2TokenGenerator.generate_uid2_token_v2(RAW_UID, master, SITE_ID, site, params),
        3: UID2TokenGenerator.generate_uid2_token_v3(RAW_UID, master, SITE_ID, site, params),
        4: UID2TokenGenerator.generate_uid2_token_v4(RAW_UID, master, SITE_ID, site, params),
    }
    for token in tokens.values():  # both must succeed before anything is timed
        assert ours_b.decrypt_token_into_raw_uid(token, None).uid == RAW_UID
        assert theirs_b.decrypt_token_into_raw_uid(token, None).uid == RAW_UID
    cases = [
        Case(
            f"decrypt v{v}",
            lambda t=t: ours_b.decrypt_token_into_raw_uid(t, None),
            lambda t=t: theirs_b.decrypt_token_into_raw_uid(t, None),
        )
        for v, t in tokens.items()
    ]
    cases.append(
        Case(
            "sharing encrypt",
            lambda: ours_s.encrypt_raw_uid_into_token(RAW_UID),
            lambda: theirs_s.encrypt_raw_uid_into_token(RAW_UID),
        )
    )
    return cases


def _batch_size(fn: Callable[[], object], seconds: float) -> int:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds / 5:
        fn()
        n += 1
    return max(1, n * 5)


def _ops_per_second(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def run(rounds: int, batch_seconds: float) -> list[dict[str, float | str]]:
    results: list[dict[str, float | str]] = []
    for case in _cases():
        sizes = (_batch_size(case.ours, batch_seconds), _batch_size(case.theirs, batch_seconds))
        ours, theirs = [], []
        for _ in range(rounds):  # interleaved: both see the same machine state
            ours.append(_ops_per_second(case.ours, sizes[0]))
            theirs.append(_ops_per_second(case.theirs, sizes[1]))
        mine, official_ops = statistics.median(ours), statistics.median(theirs)
        results.append(
            {
                "case": case.name,
                "ours": mine,
                "official": official_ops,
                "ratio": mine / official_ops,
                "target": TARGETS[case.name],
            }
        )
    return results


def render(results: list[dict[str, float | str]]) -> str:
    lines = [
        "| operation | ratio (ours / official) | target | ours ops/s | official ops/s |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        ok = "met" if float(r["ratio"]) >= float(r["target"]) else "MISSED"
        lines.append(
            f"| {r['case']} | **{float(r['ratio']):.1f}x** | >= {float(r['target']):.0f}x ({ok}) "
            f"| {float(r['ours']):,.0f} | {float(r['official']):,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-seconds", type=float, default=0.3)
    args = parser.parse_args()
    print(render(run(max(5, args.rounds), args.batch_seconds)))


if __name__ == "__main__":
    main()
