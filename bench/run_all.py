"""Runs every benchmark (``make bench``) and writes the results table to ``bench/results/``.

Ratios come first: each benchmark measures its baseline in the same process, at the same time.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ("SDK vs uid2-client 2.9.0", "sdk_vs_official.py"),
    ("Operator endpoints vs a no-op endpoint (2 workers, wrk on loopback)", "operator_load.py"),
    ("Opt-out propagation to two operator processes", "optout_propagation.py"),
    ("Pixel receiver, 2 workers, SQLite and PostgreSQL (wrk on loopback)", "pixel_receiver.py"),
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(__import__("os").sched_getaffinity(0))
    return f"{cpu}, {cores} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    sections = [f"# Benchmark results\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}\n"]
    for title, script in BENCHMARKS:
        print(f"== {title}", flush=True)
        out = subprocess.run(
            [sys.executable, str(HERE / script)], capture_output=True, text=True, check=True
        ).stdout
        print(out)
        sections.append(f"## {title}\n\n{out}")
    results = HERE / "results" / "latest.md"
    results.parent.mkdir(exist_ok=True)
    results.write_text("\n".join(sections))
    print(f"written to {results.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
