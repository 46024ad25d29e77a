"""bench/soak.py, the soak test of issue 9, run for a few seconds as its README section says.

- a short run builds its own platform (CLI, `uid2 serve operator`, `uid2 serve pixel`), keeps
  its fixed rate over all four kinds of request, sees no error, stores every pixel, samples
  both servers' memory and exits 0; its output names no key, token or email;
- the memory verdict: flat RSS passes, RSS that climbs through the run fails, a warm-up step
  does not count, a short run is not judged;
- a server's RSS includes its child processes (uvicorn's workers).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from soak_report import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    KINDS,
    memory_verdict,
    tree_rss_kib,
)

SECONDS, RATE = 8, 40
KEY_OR_SECRET = re.compile(r"\b(UID2|EUID)-[CO]-|[A-Za-z0-9+/]{40,}={0,2}")


def test_a_short_soak_sends_every_kind_at_its_rate_without_an_error(tmp_path: Path) -> None:
    out, figures = tmp_path / "soak.md", tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("UID2_")}
    done = subprocess.run(
        [sys.executable, str(BENCH / "soak.py"), "--seconds", str(SECONDS), "--rate", str(RATE),
         "--workers", "1", "--out", str(out), "--json", str(figures)],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "errors: 0\n" in done.stdout and "verdict: PASS" in done.stdout
    summary = json.loads(figures.read_text())
    assert SECONDS - 0.1 < summary["seconds"] < SECONDS + 5  # the schedule kept its pace
    assert summary["errors"] == 0 and summary["errors_by_kind"] == {}
    for kind in KINDS:  # each kind had its share of the slots, and every one succeeded
        assert summary["kinds"][kind]["sent"] == SECONDS * RATE // len(KINDS), kind
        assert summary["kinds"][kind]["ok"] == summary["kinds"][kind]["sent"], kind
        assert 0 < summary["kinds"][kind]["p50_ms"] <= summary["kinds"][kind]["p99_ms"]
    samples = summary["samples"]
    assert len(samples) >= SECONDS  # one every 0.5 s by default for a run this short
    assert all(
        s["rss_kib"]["operator"] > 10_000 and s["rss_kib"]["pixel"] > 10_000 for s in samples
    )
    assert out.read_text().count("verdict: PASS") == 1
    assert not KEY_OR_SECRET.search(done.stdout + done.stderr)
    assert "@example.com" not in done.stdout + done.stderr


def _climbing(start: int, end: int, count: int) -> list[int]:
    return [start + (end - start) * i // (count - 1) for i in range(count)]


def test_memory_is_flat_only_if_the_last_quarter_stays_within_ten_percent() -> None:
    noisy = [100_000 + (3_000 if i % 3 else -2_000) for i in range(60)]
    assert memory_verdict(noisy, 600).verdict == "flat"
    assert memory_verdict(_climbing(100_000, 108_000, 60), 600).verdict == "flat"
    leaking = memory_verdict(_climbing(100_000, 140_000, 60), 600)
    assert leaking.verdict == "GREW" and leaking.grew
    assert 0.2 < leaking.growth < 0.4
    warm_up = [50_000] * 5 + [100_000] * 55  # the first 10 % of the samples are left out
    assert memory_verdict(warm_up, 600).verdict == "flat"
    short = memory_verdict(_climbing(100_000, 140_000, 16), 8)
    assert short.verdict.startswith("not judged") and not short.grew
    assert short.growth > 0.2  # still measured and reported


def test_a_servers_rss_includes_its_child_processes() -> None:
    alone, processes = tree_rss_kib(os.getpid())
    waits_for_stdin = "import sys; print('ready', flush=True); sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", waits_for_stdin],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        with_child, more = tree_rss_kib(os.getpid())
    finally:
        child.communicate(timeout=30)  # closes its stdin: it exits
    assert more == processes + 1
    assert with_child > alone + 2_000  # a Python interpreter is several MB
    assert tree_rss_kib(child.pid) == (0, 0)  # gone
