"""CLI fixtures: a clean environment with UID2_HOME in a temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from uid2.cli import cli


@pytest.fixture(autouse=True)
def uid2_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("UID2_DATABASE_URL", "UID2_KEK"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("UID2_HOME", str(home))
    return home


@pytest.fixture
def run(db_url: str) -> Callable[..., Result]:
    """Invoke ``uid2 ARGS... --db <db_url>``."""

    def invoke(*args: Any, db: bool = True) -> Result:
        argv = [str(a) for a in args] + (["--db", db_url] if db else [])
        return CliRunner().invoke(cli, argv, catch_exceptions=False)

    return invoke
