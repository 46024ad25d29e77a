"""``uid2 user ...`` on SQLite and PostgreSQL: the first platform admin, links, team members."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from uid2.admin.passwords import verify_password
from uid2.cli import cli
from uid2.store import SqlAlchemyUnitOfWork, make_engine

Run = Callable[..., Result]
PASSWORD = "correct horse battery staple"


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def ready(run: Run) -> Run:
    _json(run("init", "--buckets", "8", "--json"))
    return run


def _stdin(db_url: str, *args: str, stdin: str) -> Result:
    argv = [*args, "--db", db_url]
    return CliRunner().invoke(cli, argv, input=stdin, catch_exceptions=False)


def test_the_first_platform_admin_reads_the_password_from_stdin(ready: Run, db_url: str) -> None:
    made = _json(_stdin(db_url, "user", "create", "Root@Example.com", "--admin",
                        "--password-stdin", "--json", stdin=PASSWORD + "\n"))  # fmt: skip
    assert made["email"] == "root@example.com" and made["platform_admin"] and not made["pending"]
    assert PASSWORD not in json.dumps(made)
    engine = make_engine(db_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            stored = uow.users.get_by_email("root@example.com")
    finally:
        engine.dispose()
    assert stored is not None and verify_password(stored.password_hash, PASSWORD)
    assert stored.password_hash is not None and PASSWORD not in stored.password_hash


def test_bad_input_is_refused_in_one_line(ready: Run, db_url: str) -> None:
    short = _stdin(db_url, "user", "create", "a@b.example", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    bad = ready("user", "create", "not-an-email")
    assert bad.exit_code == 2 and bad.output.count("\n") == 1
    _json(ready("user", "create", "a@b.example", "--json"))
    again = ready("user", "create", "A@B.example")
    assert again.exit_code == 2 and "exists" in again.output


def test_without_a_password_a_one_time_link_is_printed(ready: Run) -> None:
    made = _json(ready("user", "create", "ops@example.com", "--portal-url",
                       "https://portal.example", "--json"))  # fmt: skip
    assert made["pending"] and made["link"].startswith("https://portal.example/set-password/")
    again = _json(ready("user", "link", "ops@example.com", "--json"))
    assert again["purpose"] == "invite" and again["link"] != made["link"]
    missing = ready("user", "link", "nobody@example.com")
    assert missing.exit_code != 0 and "no portal user" in missing.output


def test_adding_a_team_member(ready: Run) -> None:
    site = _json(ready("participant", "create", "News", "--type", "publisher", "--json"))
    added = _json(ready("user", "add", "ed@news.example", "--site", site["site_id"],
                        "--role", "operations", "--json"))  # fmt: skip
    assert added["role"] == "operations" and "link" in added
    twice = ready("user", "add", "ed@news.example", "--site", site["site_id"])
    assert twice.exit_code == 2 and "already a team member" in twice.output
    unknown = ready("user", "add", "ed@news.example", "--site", 999)
    assert unknown.exit_code == 2 and "unknown site" in unknown.output
    listed = _json(ready("user", "list", "--json"))
    assert [u["email"] for u in listed] == ["ed@news.example"]
