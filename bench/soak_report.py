"""What a soak run (bench/soak.py) counts and measures, and how it is judged and reported.

Memory is judged per server on the RSS of the process and all its descendants (uvicorn's
workers), sampled from /proc: after a warm-up, the median of the last quarter of the samples
against the median of the first quarter.
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

KINDS = ("generate", "refresh", "map", "pixel")  # one slot each, in turn
WARMUP_FRACTION = 0.1  # of the samples, left out of the memory verdict
GROWTH_LIMIT = 0.10  # last-quarter median RSS over first-quarter median, at most
MIN_JUDGED_SECONDS = 60.0  # shorter runs report memory but do not judge it
MIN_JUDGED_SAMPLES = 8


@dataclass
class Tally:
    """What was sent and how it went; shared by the sender threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # "kind: what went wrong"
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    late: int = 0

    def succeeded(self, kind: str, latency: float) -> None:
        with self.lock:
            self.ok[kind] += 1
            self.latencies[kind].append(latency)

    def failed(self, kind: str, what: str, count: int = 1) -> None:
        with self.lock:
            self.errors[f"{kind}: {what}"] += count

    def dispatched(self, kind: str, late: bool) -> None:
        with self.lock:
            self.sent[kind] += 1
            self.late += late

    def error_count(self) -> int:
        with self.lock:
            return sum(self.errors.values())

    def errors_text(self) -> str:
        with self.lock:
            total = sum(self.errors.values())
            detail = ", ".join(f"{name} x{n}" for name, n in sorted(self.errors.items()))
        return f"errors: {total}" + (f" ({detail})" if detail else "")


# ---- memory ------------------------------------------------------------------------------


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # the command name may hold spaces and parentheses: split after the last ")"
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    return parents


def _vmrss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a zombie


def tree_rss_kib(root: int) -> tuple[int, int]:
    """(RSS in KiB, live process count) of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    tree = [root]
    for pid in tree:  # bounded: each process has one parent, so it joins ``tree`` once
        tree.extend(children.get(pid, []))
    sizes = [_vmrss_kib(pid) for pid in tree]
    return sum(sizes), sum(1 for size in sizes if size)


@dataclass(frozen=True)
class Sample:
    elapsed: float
    rss_kib: dict[str, int]  # per server
    processes: dict[str, int]


def take_sample(elapsed: float, servers: dict[str, int]) -> Sample:
    trees = {name: tree_rss_kib(pid) for name, pid in servers.items()}
    return Sample(elapsed, {n: t[0] for n, t in trees.items()}, {n: t[1] for n, t in trees.items()})


def progress_line(sample: Sample, tally: Tally) -> str:
    with tally.lock:
        sent, late = sum(tally.sent.values()), tally.late
    memory = "  ".join(
        f"{name} {kib / 1024:.1f} MB ({sample.processes[name]} proc)"
        for name, kib in sample.rss_kib.items()
    )
    return f"[{sample.elapsed:7.1f} s] sent {sent} (late {late})  {tally.errors_text()}  | {memory}"


@dataclass(frozen=True)
class MemoryVerdict:
    first_kib: float  # median of the first quarter after warm-up
    last_kib: float  # median of the last quarter
    growth: float  # last / first - 1
    verdict: str  # "flat", "GREW" or "not judged (why)"

    @property
    def grew(self) -> bool:
        return self.verdict == "GREW"


def memory_verdict(rss_kib: list[int], seconds: float) -> MemoryVerdict:
    """Flat if the last quarter's median RSS is at most GROWTH_LIMIT above the first's.

    Medians, not single samples: the garbage collector and the allocator move RSS a few MB up
    and down; a leak moves the whole last quarter.
    """
    steady = rss_kib[int(len(rss_kib) * WARMUP_FRACTION) :]
    if not steady or not steady[0]:
        return MemoryVerdict(0, 0, 0, "not judged (no samples)")
    quarter = max(1, len(steady) // 4)
    first, last = statistics.median(steady[:quarter]), statistics.median(steady[-quarter:])
    growth = last / first - 1
    if seconds < MIN_JUDGED_SECONDS or len(steady) < MIN_JUDGED_SAMPLES:
        verdict = f"not judged (runs under {MIN_JUDGED_SECONDS:.0f} s are too short)"
    else:
        verdict = "flat" if growth <= GROWTH_LIMIT else "GREW"
    return MemoryVerdict(first, last, growth, verdict)


# ---- the summary -------------------------------------------------------------------------


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest rank; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass(frozen=True)
class Summary:
    setup: str  # one line: rate, store, workers
    seconds: float
    interrupted: bool
    tally: Tally
    samples: list[Sample]

    @property
    def memory(self) -> dict[str, MemoryVerdict]:
        names = self.samples[0].rss_kib if self.samples else {}
        return {
            n: memory_verdict([s.rss_kib[n] for s in self.samples], self.seconds) for n in names
        }

    @property
    def passed(self) -> bool:
        memory_ok = not any(v.grew for v in self.memory.values())
        return not self.interrupted and self.tally.error_count() == 0 and memory_ok

    @property
    def verdict(self) -> str:
        return "INTERRUPTED" if self.interrupted else "PASS" if self.passed else "FAIL"

    def as_json(self) -> dict[str, object]:
        t = self.tally
        kinds = {
            k: {
                "sent": t.sent[k],
                "ok": t.ok[k],
                "p50_ms": percentile(t.latencies[k], 0.5) * 1e3,
                "p99_ms": percentile(t.latencies[k], 0.99) * 1e3,
            }
            for k in KINDS
        }
        return {
            "verdict": self.verdict,
            "seconds": self.seconds,
            "kinds": kinds,
            "errors": t.error_count(),
            "errors_by_kind": dict(t.errors),
            "late": t.late,
            "memory": {n: asdict(v) for n, v in self.memory.items()},
            "samples": [asdict(s) for s in self.samples],
        }


def _kind_rows(tally: Tally) -> list[str]:
    rows = ["| request | sent | ok | errors | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    for kind in KINDS:
        errors = sum(n for name, n in tally.errors.items() if name.startswith(f"{kind}:"))
        p50, p99 = (percentile(tally.latencies[kind], q) * 1e3 for q in (0.5, 0.99))
        rows.append(
            f"| {kind} | {tally.sent[kind]:,} | {tally.ok[kind]:,} | {errors} "
            f"| {p50:.1f} | {p99:.1f} |"
        )
    return rows


def _memory_rows(memory: dict[str, MemoryVerdict]) -> list[str]:
    rows = [
        "| server | RSS, first quarter median | RSS, last quarter median | growth | verdict |",
        "|---|---|---|---|---|",
    ]
    for name, v in memory.items():
        rows.append(
            f"| {name} | {v.first_kib / 1024:.1f} MB | {v.last_kib / 1024:.1f} MB "
            f"| {v.growth:+.1%} | {v.verdict} |"
        )
    return rows


def _timeline(samples: list[Sample], points: int = 12) -> list[str]:
    """RSS over time: at most ``points`` + 1 rows spread over the run, the last sample last."""
    if not samples:
        return []
    names = list(samples[0].rss_kib)
    rows = [
        "| elapsed s | " + " | ".join(f"{n} MB" for n in names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    step = max(1, -(-len(samples) // points))  # ceiling division
    shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    for s in shown:
        sizes = " | ".join(f"{s.rss_kib[n] / 1024:.1f}" for n in names)
        rows.append(f"| {s.elapsed:.0f} | {sizes} |")
    return rows


def render(summary: Summary) -> str:
    total = sum(summary.tally.sent.values())
    rule = (
        f"memory is flat if the last quarter's median RSS is at most {GROWTH_LIMIT:.0%} above"
        f" the first quarter's (the first {WARMUP_FRACTION:.0%} of the samples are warm-up;"
        f" runs under {MIN_JUDGED_SECONDS:.0f} s are not judged)"
    )
    lines = [
        f"{total:,} requests in {summary.seconds:.0f} s; {summary.setup}; late sends:"
        f" {summary.tally.late}",
        "",
        *_kind_rows(summary.tally),
        "",
        summary.tally.errors_text(),
        "",
        *_memory_rows(summary.memory),
        "",
        rule,
        "",
        *_timeline(summary.samples),
        "",
        f"verdict: {summary.verdict}",
    ]
    return "\n".join(lines)
