"""The ``uid2`` commands through click's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import uid2
from uid2.cli import cli
from uid2.store import (
    SqlAlchemyUnitOfWork,
    current_revision,
    head_revision,
    make_engine,
    upgrade_schema,
)
from uid2.store.database import FIRST_REVISION

Run = Callable[..., Result]


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def ready(run: Run) -> Run:
    _json(run("init", "--buckets", "32", "--json"))
    return run


def test_init_is_idempotent_and_creates_a_private_kek_file(run: Run, uid2_home: Path) -> None:
    first = _json(run("init", "--scope", "EUID", "--buckets", "32", "--json"))
    second = _json(run("init", "--json"))
    assert first["created_keysets"] == [-1, -2, 2] and first["scope"] == "EUID"
    assert second["created_keysets"] == [] and not second["salts_created"]
    assert second["bucket_count"] == 32 and second["scope"] == "EUID"
    assert (uid2_home / "kek").stat().st_mode & 0o077 == 0


def test_init_upgrades_an_older_schema_in_place(run: Run, db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine, FIRST_REVISION)
        assert _json(run("init", "--buckets", "8", "--json"))["schema_revision"] != FIRST_REVISION
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_participants_life_through_the_cli(ready: Run) -> None:
    site = _json(ready("participant", "create", "News", "--type", "publisher",
                       "--domain", "news.com", "--app-name", "com.news.app", "--json"))  # fmt: skip
    dsp = _json(ready("participant", "create", "Bidder", "--type", "dsp", "--json"))
    key = _json(ready("apikey", "create", "--site", site["site_id"], "--roles",
                      "GENERATOR,SHARER", "--name", "web", "--json"))  # fmt: skip
    assert {"key", "secret", "key_id"} <= set(key) and key["key"].startswith("UID2-C-L-3-")
    cstg = _json(ready("cstg-key", "create", "--site", site["site_id"], "--json"))
    assert cstg["public_key"].startswith("UID2-X-L-") and len(cstg["subscription_id"]) == 10
    grant = _json(ready("share", "grant", "--site", site["site_id"], "--to", dsp["site_id"],
                        "--json"))  # fmt: skip
    assert grant["allowed_sites"] == [dsp["site_id"]]
    revoke = _json(ready("share", "revoke", "--site", site["site_id"], "--to-type", "dsp",
                         "--json"))  # fmt: skip
    assert revoke["allowed_types"] == []
    keysets = {k["keyset_id"]: k for k in _json(ready("keys", "list", "--json"))}
    assert set(keysets) == {-2, -1, 2, 4}
    assert keysets[4]["site_id"] == site["site_id"] and keysets[4]["active_key_id"] is not None
    assert keysets[4]["allowed_sites"] == [dsp["site_id"]]  # "dsp" type revoked, site kept
    assert "secret" not in json.dumps(keysets)
    listed = _json(ready("apikey", "list", "--json"))
    assert [k["key_id"] for k in listed] == [key["key_id"]] and "secret" not in listed[0]


def test_rotations_and_optouts_through_the_cli(ready: Run) -> None:
    assert _json(ready("keys", "rotate", "--json"))["rotated"] == []  # keys are a second old
    assert len(_json(ready("keys", "rotate", "--force", "--json"))["rotated"]) == 3
    assert _json(ready("salts", "rotate", "--fraction", "0.25", "--json"))["rotated"] == 8
    assert _json(ready("optout", "add", "--email", "a@example.com", "--json"))["seq"] >= 1
    assert _json(ready("optout", "add", "--phone", "+12345678901", "--json"))["seq"] >= 2


def test_human_output_is_a_table(ready: Run) -> None:
    result = ready("participant", "create", "Tabled", "--type", "advertiser")
    assert result.exit_code == 0 and "site_id" in result.stdout and "Tabled" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("participant", "create", "X", "--type", "bank"), "unknown participant type 'bank'"),
        (("participant", "create", "X", "--type", "dsp", "--domain", "a b"), "invalid domain"),
        (("participant", "create", "X", "--type", "dsp", "--app-name", "x"), "invalid app name"),
        (("apikey", "create", "--site", "77", "--roles", "MAPPER"), "unknown site 77"),
        (("apikey", "create", "--site", "3", "--roles", "MAPPER,ROOT"), "unknown role 'ROOT'"),
        (("cstg-key", "create", "--site", "77"), "unknown site 77"),
        (("share", "grant", "--site", "3", "--to-type", "bank"), "unknown participant type"),
        (("share", "grant", "--site", "3"), "give exactly one of a site or a type"),
        (("optout", "add", "--email", "not-an-email"), "invalid email"),
        (("optout", "add"), "give --email or --phone"),
        (("salts", "rotate", "--fraction", "2"), "fraction must be in (0, 1]"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_and_writes_nothing(
    ready: Run, db_url: str, args: tuple[str, ...], fragment: str
) -> None:
    _json(ready("participant", "create", "Existing", "--type", "dsp", "--json"))
    audit_before = _audit_count(db_url)
    result = ready(*args)
    assert result.exit_code == 2
    assert result.stdout == "" and fragment in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert _audit_count(db_url) == audit_before


def _audit_count(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:  # the audit trail needs no KEK
            return len(uow.audit.list_all())
    finally:
        engine.dispose()


def test_a_duplicate_participant_name_is_refused(ready: Run) -> None:
    _json(ready("participant", "create", "Dup", "--type", "dsp", "--json"))
    result = ready("participant", "create", "Dup", "--type", "dsp")
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert len(_json(ready("participant", "list", "--json"))) == 1


def test_commands_before_init_say_so(run: Run) -> None:
    result = run("participant", "list")
    assert result.exit_code == 1 and result.stderr == "error: the database is not initialised\n"


def test_a_wrong_kek_is_refused(ready: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UID2_KEK", "A" * 43 + "=")
    result = ready("apikey", "list")
    assert result.exit_code == 1 and "KEK" in result.stderr


def test_kek_rotation_replaces_the_key_file(ready: Run, uid2_home: Path) -> None:
    _json(ready("participant", "create", "P", "--type", "publisher", "--json"))
    _json(ready("apikey", "create", "--site", "3", "--roles", "GENERATOR", "--json"))
    old = (uid2_home / "kek").read_text()
    assert _json(ready("kek", "rotate", "--json"))["resealed"] > 0
    assert (uid2_home / "kek").read_text() != old
    assert len(_json(ready("apikey", "list", "--json"))) == 1


def test_the_database_url_can_come_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UID2_DATABASE_URL", db_url)
    result = CliRunner().invoke(cli, ["init", "--buckets", "4", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["bucket_count"] == 4


def test_demo_runs_the_walkthrough_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    fake = types.ModuleType("uid2.walkthrough")
    fake.main = lambda: calls.append("ran")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uid2.walkthrough", fake)
    monkeypatch.setattr(uid2, "walkthrough", fake, raising=False)  # if already imported
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0 and calls == ["ran"]


def test_participant_and_api_key_edits_through_the_cli(ready: Run) -> None:
    site = _json(ready("participant", "create", "Ed", "--type", "advertiser", "--json"))["site_id"]
    assert not _json(ready("participant", "disable", site, "--json"))["enabled"]
    assert _json(ready("participant", "set-types", site, "dsp", "publisher", "--json"))[
        "types"
    ] == ["dsp", "publisher"]
    domains = _json(ready("participant", "set-domains", site, "b.com", "A.com", "--json"))
    assert domains["domain_names"] == ["a.com", "b.com"]
    apps = _json(ready("participant", "set-app-names", site, "com.ed.app", "--json"))
    assert apps["app_names"] == ["com.ed.app"]
    key_id = _json(ready("apikey", "create", "--site", site, "--roles", "MAPPER", "--json"))[
        "key_id"
    ]
    assert _json(ready("apikey", "rename", key_id, "renamed", "--json"))["name"] == "renamed"
    roles = _json(ready("apikey", "roles", key_id, "--roles", "mapper,sharer", "--json"))
    assert roles["roles"] == ["MAPPER", "SHARER"]
    assert _json(ready("apikey", "disable", key_id, "--json"))["disabled"]
    subscription = _json(ready("cstg-key", "create", "--site", site, "--json"))["subscription_id"]
    assert ready("cstg-key", "disable", subscription).exit_code == 0


def test_a_bad_database_url_is_one_line_without_the_url(run: Run) -> None:
    result = CliRunner().invoke(cli, ["participant", "list", "--db", "nope://user:pw@x/y"])
    assert result.exit_code == 1
    assert result.stderr == "error: the database URL is not valid\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("apikey", "create", "--site", "abc", "--roles", "MAPPER"), "not a valid integer"),
        (("apikey", "create", "--roles", "MAPPER"), "Missing option '--site'"),
        (("no-such-command",), "No such command"),
    ],
)
def test_usage_errors_are_one_line_too(args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_help_still_works() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "participant" in result.stdout
