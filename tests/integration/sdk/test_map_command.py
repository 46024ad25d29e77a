"""`uid2 map FILE` against the fake operator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner
from fake_operator import API_KEY, SECRET_B64, FakeOperator, raw_uid_for
from loopback_operator import serve

from uid2.cli import cli
from uid2.core.dii import hash_dii
from uid2.core.encoding import b64encode


def test_map_command_writes_results_in_input_order(tmp_path: Path) -> None:
    emails = [f"person{i}@example.com" for i in range(12)] + ["optout@example.com", "nope@"]
    source = tmp_path / "in.csv"
    source.write_text("email\n" + "\n".join(emails) + "\n")
    operator = FakeOperator()
    operator.fail("/v3/identity/map", 429)  # the first batch is throttled once
    with serve(operator) as url:
        result = CliRunner().invoke(
            cli,
            ["map", str(source), "--operator", url, "--api-key", API_KEY, "--secret", SECRET_B64,
             "--batch-size", "5", "--parallel", "2", "-o", str(tmp_path / "out.csv")],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["input"] for r in rows] == emails
    assert rows[0]["raw_uid2"] == b64encode(raw_uid_for(hash_dii("person0@example.com")))
    assert rows[-2]["unmapped_reason"] == "optout"
    assert rows[-1]["unmapped_reason"] == "invalid identifier"
    assert operator.calls.count("/v3/identity/map") == 4  # 3 batches + 1 retry


def test_map_command_needs_credentials(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a@b.com\n")
    result = CliRunner().invoke(cli, ["map", str(source)], env={"UID2_BASE_URL": ""})
    assert result.exit_code == 2 and "--operator" in result.output
