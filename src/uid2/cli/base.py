"""Shared pieces of the ``uid2`` command: settings, the store runtime, output, error seam.

Only this module (and each service's ``create_app``) reads the environment. It builds the
engine and the KEK box, runs one admin use case per command, and maps the admin and store
errors to a one-line message at one seam (:class:`Uid2Group`): exit code 2 for a refused
command (bad input, nothing written), 1 when the store or its KEK is unusable.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

import uid2.admin as admin
from uid2.store import (
    SecretBox,
    SqlAlchemyUnitOfWork,
    StoreError,
    StoreErrorCode,
    make_engine,
    require_current_schema,
)
from uid2.store.location import StoreLocation

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: StoreLocation
    engine: Engine
    box: SecretBox

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box)

    def reader(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box, read_only=True)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in this environment (e.g. some containers)
        return "cli"


def context() -> admin.Context:
    return admin.Context(
        now_ms=time.time_ns() // 1_000_000, actor=actor(), entropy=admin.system_entropy()
    )


@contextmanager
def runtime(db: str | None) -> Iterator[Runtime]:
    settings = StoreLocation.from_environ(os.environ)
    engine = make_engine(settings.url(db))
    try:
        require_current_schema(engine)
        kek = settings.kek()
        if kek is None:
            raise StoreError(StoreErrorCode.KEK_MISSING, "no KEK: set UID2_KEK or run `uid2 init`")
        yield Runtime(settings, engine, SecretBox(kek))
    finally:
        engine.dispose()


class Uid2Group(click.Group):
    """Maps the layers' errors to one line on stderr and an exit code (the one seam)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        # Click's own usage errors print three lines; every refusal here is one line.
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            click.echo(f"error: {error.format_message()}", err=True)
            result = 2
        except click.ClickException as error:
            click.echo(f"error: {error.format_message()}", err=True)
            result = error.exit_code
        except click.Abort:
            click.echo("error: aborted", err=True)
            result = 1
        code = result if isinstance(result, int) else 0
        if standalone_mode:
            sys.exit(code)
        return result

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except admin.AdminError as error:
            click.echo(f"error: {error.message}", err=True)
            ctx.exit(2)
        except StoreError as error:
            click.echo(f"error: {error.message}", err=True)
            ctx.exit(1)


def db_option(func: F) -> F:
    doc = "Database URL (default: $UID2_DATABASE_URL, else $UID2_HOME/uid2.db)."
    return click.option("--db", "db", default=None, metavar="URL", help=doc)(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def emit(as_json: bool, data: Mapping[str, Any], title: str) -> None:
    if as_json:
        click.echo(json.dumps(data, sort_keys=True))
        return
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in data.items():
        table.add_row(name, human(value))
    Console(soft_wrap=True).print(table)


def emit_rows(as_json: bool, rows: Sequence[Mapping[str, Any]], title: str) -> None:
    if as_json:
        click.echo(json.dumps(list(rows), sort_keys=True))
        return
    table = Table(title=title)
    for name in rows[0] if rows else ():
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(human(v) for v in row.values()))
    Console(soft_wrap=True).print(table)


def human(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


@click.group(cls=Uid2Group)
def cli() -> None:
    """uid2: a self-hostable UID2/EUID-compatible identity platform."""
