"""`uid2 pixel events|stats|segment` over a receiver's event store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner, Result
from pixel_receiver_world import (
    OTHER_KEY,
    OTHER_RAW_UID,
    OTHER_SITE,
    RAW_UID,
    SENDER_SITE,
    KeyServer,
    assert_gif,
    build_receiver,
    encrypt,
    running,
    sender_client,
)
from sqlalchemy import Engine

import uid2.pixel.store as pixel_store
from uid2.cli import cli

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
FIELDS = ["kind", "event", "status", "sender_site_id", "raw_uid2"]


class Clock:
    def __init__(self) -> None:
        self.now_ms = T0_MS

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UID2_DATABASE_URL", "UID2_PIXEL_DATABASE_URL", "UID2_KEK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UID2_HOME", str(tmp_path / "home"))


@pytest.fixture
def filled(db_url: str) -> Iterator[str]:
    """Five events: three on day 0 (one of them a creative), two on day 2."""
    clock = Clock()
    keys = KeyServer()
    app = build_receiver(db_url, keys, clock_ms=clock)
    token = encrypt(RAW_UID)
    # the advertiser's token for another person, and a sender the DSP may not read
    other = encrypt(OTHER_RAW_UID)
    stranger = encrypt(OTHER_RAW_UID, sender_client(OTHER_SITE, OTHER_KEY))
    ref = {"Referer": "https://shop.example/cart?email=jane@example.com"}
    try:
        with running(app) as http:
            for kind, fields in [
                ("tracking", {"uid2_token": token, "ev": "purchase", "value": "12.50"}),
                ("tracking", {"uid2_token": stranger, "ev": "purchase"}),
                ("creative", {"uid2_token": token, "ev": "impression", "cr": "c-1"}),
            ]:
                assert_gif(http.get(f"/px/{kind}?{urlencode(fields)}", headers=ref))
            clock.now_ms = T0_MS + 2 * DAY_MS
            for fields in [
                {"uid2_token": other, "ev": "purchase", "sku": ["a", "b"]},
                {"ev": "purchase"},
            ]:
                assert_gif(http.get(f"/px/tracking?{urlencode(fields, doseq=True)}"))
    finally:
        app._engine.dispose()
    yield db_url


def run(*args: str, db: str | None = None) -> Result:
    """``uid2 ARGS [--db DB]`` in-process; the engines it opens are closed afterwards (the
    command leaves that to the end of its process)."""
    engines: list[Engine] = []

    def open_and_keep(url: str) -> Engine:
        engine = real_open_engine(url)
        engines.append(engine)
        return engine

    argv = [*args] + (["--db", db] if db else [])
    real_open_engine = pixel_store.open_engine
    try:
        with patch.object(pixel_store, "open_engine", open_and_keep):
            return CliRunner().invoke(cli, argv, catch_exceptions=False)
    finally:
        for engine in engines:
            engine.dispose()


def test_events_as_json(filled: str) -> None:
    result = run("pixel", "events", "--json", db=filled)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [{k: r[k] for k in FIELDS} for r in rows] == [
        dict(zip(FIELDS, v, strict=True))
        for v in [
            ("tracking", "purchase", "SUCCESS", SENDER_SITE, RAW_UID),
            ("tracking", "purchase", "NOT_AUTHORIZED_FOR_KEY", None, None),
            ("creative", "impression", "SUCCESS", SENDER_SITE, RAW_UID),
            ("tracking", "purchase", "SUCCESS", SENDER_SITE, OTHER_RAW_UID),
            ("tracking", "purchase", "NO_TOKEN", None, None),
        ]
    ]
    assert rows[0]["params"] == {"value": "12.50"}
    assert rows[3]["params"] == {"sku": ["a", "b"]}
    assert rows[0]["received"] == "2026-01-01T00:00:00+00:00"
    assert [r["referrer_domain"] for r in rows] == ["shop.example"] * 3 + [None, None]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    assert "jane" not in result.output and "uid2_token" not in result.output


def test_events_since_and_by_event_name(filled: str) -> None:
    later = json.loads(run("pixel", "events", "--json", "--since", "2026-01-02", db=filled).output)
    assert [r["raw_uid2"] for r in later] == [OTHER_RAW_UID, None]
    # a time with an offset: 2026-01-03T00:00+00:00 is 2026-01-02T20:00-04:00
    edge = run("pixel", "events", "--json", "--since", "2026-01-02T20:00:00-04:00", db=filled)
    assert len(json.loads(edge.output)) == 2
    after = run("pixel", "events", "--json", "--since", "2026-01-03T00:00:00.001", db=filled)
    assert json.loads(after.output) == []
    impressions = run("pixel", "events", "--json", "--event", "impression", db=filled)
    assert [r["kind"] for r in json.loads(impressions.output)] == ["creative"]
    bad = run("pixel", "events", "--since", "yesterday", db=filled)
    assert bad.exit_code == 2 and "ISO" in bad.output


def test_events_as_csv_and_as_a_table(filled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("pixel", "events", "--csv", db=filled)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 5
    assert set(FIELDS) <= set(rows[0]) and "params" in rows[0]
    assert [r["status"] for r in rows][:2] == ["SUCCESS", "NOT_AUTHORIZED_FOR_KEY"]
    assert rows[0]["raw_uid2"] == RAW_UID and rows[1]["raw_uid2"] == ""
    assert json.loads(rows[3]["params"]) == {"sku": ["a", "b"]}
    monkeypatch.setenv("COLUMNS", "400")  # a wide terminal: rich folds nothing
    table = run("pixel", "events", db=filled)
    assert table.exit_code == 0 and "NOT_AUTHORIZED_FOR_KEY" in table.output


def test_stats(filled: str) -> None:
    result = run("pixel", "stats", "--json", db=filled)
    assert result.exit_code == 0, result.output
    stats = {(r["sender_site_id"], r["status"]): r["events"] for r in json.loads(result.output)}
    assert stats == {
        (None, "NOT_AUTHORIZED_FOR_KEY"): 1,
        (None, "NO_TOKEN"): 1,
        (SENDER_SITE, "SUCCESS"): 3,
    }
    table = run("pixel", "stats", db=filled).output
    assert "NOT_AUTHORIZED" in table and "SUCCESS" in table


def test_segment(filled: str, tmp_path: Path) -> None:
    result = run("pixel", "segment", "--event", "purchase", db=filled)
    assert result.exit_code == 0
    assert result.output.splitlines() == sorted([RAW_UID, OTHER_RAW_UID])
    assert run("pixel", "segment", "--event", "impression", db=filled).output == f"{RAW_UID}\n"
    assert run("pixel", "segment", "--event", "nothing", db=filled).output == ""
    out = tmp_path / "segment.txt"
    written = run("pixel", "segment", "--event", "purchase", "-o", str(out), db=filled)
    assert written.exit_code == 0
    assert out.read_text().splitlines() == sorted([RAW_UID, OTHER_RAW_UID])


def test_the_database_comes_from_the_environment_or_uid2_home(
    filled: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UID2_PIXEL_DATABASE_URL", filled)
    assert len(json.loads(run("pixel", "events", "--json").output)) == 5
    monkeypatch.delenv("UID2_PIXEL_DATABASE_URL")
    assert json.loads(run("pixel", "events", "--json").output) == []  # a new $UID2_HOME/pixel.db
    assert (tmp_path / "home" / "pixel.db").exists()


def test_serve_pixel_refuses_a_bad_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPERATOR_URL", "API_KEY", "SECRET", "DATABASE_URL"):
        monkeypatch.setenv(f"UID2_PIXEL_{name}", "")  # restored after: the command sets them
    args = ["serve", "pixel", "--operator", "http://127.0.0.1:9", "--api-key", "k"]
    result = run(*args, "--secret", "s", db="no-such-scheme://x")
    assert result.exit_code == 1
    assert "database URL is not valid" in result.output
