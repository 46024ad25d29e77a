"""A long fuzz run of the parsers of hostile input (issue 9): many more hypothesis examples
than the test suite's, over the same properties.

It re-runs every property test of the envelope, token, refresh-token and CSTG parsers
(``tests/unit/core/test_envelope_properties.py``, ``test_token_properties.py``,
``test_fast_path.py``) and of the pixel hit reader (``tests/unit/pixel``), each with
``--examples`` examples, and counts the cases actually run. A property that fails (a parser
that raises, a status that is wrong) stops the run with hypothesis's minimal example.

    python bench/fuzz_parsers.py [--examples N]     # default 10,000 per property

Not part of `make bench`: it is a correctness run, not a measurement.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SUITES = {
    "tests/unit/core": ("test_envelope_properties", "test_token_properties", "test_fast_path"),
    "tests/unit/pixel": ("test_pixel_events",),
}


def _properties(module: Any) -> list[tuple[str, Callable[..., None]]]:
    found = []
    for name, test in vars(module).items():
        if not name.startswith("test_") or not hasattr(test, "hypothesis"):
            continue
        if inspect.signature(test).parameters:  # needs pytest fixtures or parameters: skip
            continue
        found.append((f"{module.__name__}.{name}", test))
    return found


def run(examples: int) -> tuple[int, list[str]]:
    total, lines = 0, []
    for folder, names in SUITES.items():
        sys.path.insert(0, str(ROOT / folder))
        for module_name in names:
            for label, test in _properties(importlib.import_module(module_name)):
                count = [0]
                inner = test.hypothesis.inner_test  # type: ignore[attr-defined]

                def counted(*args: Any, _inner: Any = inner, _count: list[int] = count,
                            **kwargs: Any) -> None:  # fmt: skip
                    _count[0] += 1
                    _inner(*args, **kwargs)

                test.hypothesis.inner_test = counted  # type: ignore[attr-defined]
                # the tests pin their own (small) max_examples: raise it in place
                current = getattr(test, "_hypothesis_internal_use_settings", settings.default)
                test._hypothesis_internal_use_settings = settings(  # type: ignore[attr-defined]
                    current, max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck),
                )  # fmt: skip
                started = time.perf_counter()
                test()
                total += count[0]
                lines.append(f"{label}: {count[0]:,} cases, {time.perf_counter() - started:.1f} s")
    return total, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="per property")
    total, lines = run(parser.parse_args().examples)
    print("\n".join(lines))
    print(f"\n{total:,} cases, no failure")


if __name__ == "__main__":
    main()
