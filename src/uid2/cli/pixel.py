"""``uid2 serve pixel`` and ``uid2 pixel ...``: the receiver, its events, and creative URLs."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from uid2.cli.base import cli, emit_rows
from uid2.cli.serve import run_factory, serve
from uid2.store.location import StoreLocation

PIXEL_DATABASE_FILE = "pixel.db"


def _default_db() -> str:
    from uid2.store import sqlite_url

    return sqlite_url(StoreLocation.from_environ(os.environ).home / PIXEL_DATABASE_FILE)


def _db_option(func: Any) -> Any:
    return click.option(
        "--db", "db", default=None, metavar="URL", envvar="UID2_PIXEL_DATABASE_URL",
        help="Event database (default: $UID2_PIXEL_DATABASE_URL, else $UID2_HOME/pixel.db).",
    )(func)  # fmt: skip


@serve.command("pixel")
@click.option(
    "--operator",
    "operator_url",
    required=True,
    envvar="UID2_PIXEL_OPERATOR_URL",
    metavar="URL",
    help="The operator the sharing keys come from.",
)
@click.option(
    "--api-key",
    required=True,
    envvar="UID2_PIXEL_API_KEY",
    metavar="KEY",
    help="The receiver's API key (SHARER role); or $UID2_PIXEL_API_KEY.",
)
@click.option(
    "--secret",
    required=True,
    envvar="UID2_PIXEL_SECRET",
    metavar="SECRET",
    help="Its client secret; or $UID2_PIXEL_SECRET.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8082, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@_db_option
def serve_pixel(
    operator_url: str, api_key: str, secret: str, host: str, port: int, workers: int,
    db: str | None,
) -> None:  # fmt: skip
    """Receive tracking and creative pixels: decrypt, store, answer a 1x1 GIF."""
    from uid2.pixel.app import create_app_from_env
    from uid2.pixel.settings import SettingsError
    from uid2.store.errors import StoreError

    os.environ.update(
        UID2_PIXEL_OPERATOR_URL=operator_url,
        UID2_PIXEL_API_KEY=api_key,
        UID2_PIXEL_SECRET=secret,
        UID2_PIXEL_DATABASE_URL=db or _default_db(),
    )
    try:
        create_app_from_env()  # the schema, the URL and the settings, checked once here
    except (SettingsError, StoreError) as error:
        raise click.ClickException(str(error)) from None
    run_factory("uid2.pixel.app:create_app_from_env", host, port, workers, log_level="warning")


@cli.group()
def pixel() -> None:
    """A pixel receiver's events, and creative pixel URLs for DSPs."""


@contextmanager
def _store(db: str | None) -> Iterator[Any]:
    from uid2.pixel.store import EventStore, ensure_schema, open_engine

    engine = open_engine(db or _default_db())
    try:
        ensure_schema(engine)
        yield EventStore(engine)
    finally:
        engine.dispose()


def _since_ms(since: str | None) -> int:
    if since is None:
        return 0
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise click.BadParameter("use an ISO date or time, like 2026-01-31T12:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def event_row(seq: int, e: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "received": datetime.fromtimestamp(e.received_ms / 1000, UTC).isoformat(),
        "kind": e.kind.value,
        "event": e.event,
        "status": e.status,
        "sender_site_id": e.sender_site_id,
        "raw_uid2": e.raw_uid2,
        "established_ms": e.established_ms,
        "generated_ms": e.generated_ms,
        "params": json.loads(e.params),
        "referrer_domain": e.referrer_domain,
    }


@pixel.command("events")
@click.option("--since", default=None, metavar="T", help="ISO time (UTC unless it says).")
@click.option("--event", "event_name", default=None, metavar="E", help="Only this event name.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@_db_option
def pixel_events(
    since: str | None, event_name: str | None, as_json: bool, as_csv: bool, db: str | None
) -> None:
    """List stored pixel events (oldest first)."""
    with _store(db) as store:
        stored = store.events(_since_ms(since), event_name=event_name)
        rows = [event_row(s.seq, s.event) for s in stored]
    if as_json:
        click.echo(json.dumps(rows))
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(event_row(0, _blank()).keys()))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "params": json.dumps(row["params"])})
    else:
        emit_rows(
            False, [{k: v for k, v in r.items() if k != "params"} for r in rows], "Pixel events"
        )


def _blank() -> Any:
    from uid2.pixel.events import PixelEvent, PixelKind

    return PixelEvent(0, PixelKind.TRACKING, "", "", None, None, None, None, "{}", None)


@pixel.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
def pixel_stats(as_json: bool, db: str | None) -> None:
    """Event counts per sender site and status."""
    with _store(db) as store:
        counts = store.stats()
    rows = [
        {"sender_site_id": site, "status": status, "events": count}
        for site, status, count in counts
    ]
    emit_rows(as_json, rows, "Pixel events by sender and status")


@pixel.command("segment")
@click.option("--event", "event_name", required=True, metavar="E")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: standard output).")  # fmt: skip
@_db_option
def pixel_segment(event_name: str, output: Path | None, db: str | None) -> None:
    """Export the distinct raw UID2s recorded for an event, one per line."""
    with _store(db) as store:
        uids = store.segment(event_name)
    text = "".join(f"{u}\n" for u in uids)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"{len(uids)} raw UID2s written to {output}", err=True)


@pixel.command("creative")
@click.option(
    "--template",
    required=True,
    metavar="URL",
    help="Creative pixel URL holding the {UID2_TOKEN} macro.",
)
@click.option(
    "--operator", "operator_url", required=True, envvar="UID2_OPERATOR_URL", metavar="URL"
)
@click.option(
    "--api-key",
    required=True,
    envvar="UID2_API_KEY",
    metavar="KEY",
    help="The DSP's API key (SHARER role); or $UID2_API_KEY.",
)
@click.option(
    "--secret",
    required=True,
    envvar="UID2_SECRET",
    metavar="SECRET",
    help="Its client secret; or $UID2_SECRET.",
)
@click.option(
    "--raw-uid",
    "raw_uids",
    multiple=True,
    metavar="UID2",
    help="A raw UID2 (repeatable); or give --input.",
)
@click.option("--input", "input_file", type=click.File("r"), default=None,
              help="A file of raw UID2s, one per line ('-' for standard input).")  # fmt: skip
def pixel_creative(
    template: str, operator_url: str, api_key: str, secret: str, raw_uids: tuple[str, ...],
    input_file: Any,
) -> None:  # fmt: skip
    """Fill a creative pixel template with a fresh token per raw UID2 (one URL per line)."""
    from uid2.sdk import SharingClient, creative_pixel_urls

    uids = list(raw_uids) + ([line.strip() for line in input_file if line.strip()]
                             if input_file else [])  # fmt: skip
    if not uids:
        raise click.UsageError("give --raw-uid or --input")
    with SharingClient(operator_url, api_key, secret) as client:
        refreshed = client.refresh()
        if not refreshed.success:
            raise click.ClickException(f"could not fetch sharing keys: {refreshed.reason}")
        try:
            urls = creative_pixel_urls(client, template, uids)
        except ValueError as error:
            raise click.UsageError(str(error)) from None
    failures = 0
    for number, made in enumerate(urls, start=1):
        if made.url is None:  # the raw UID2 itself is not echoed
            failures += 1
            click.echo(f"error: line {number}: {made.status.name}", err=True)
        else:
            click.echo(made.url)
    if failures:
        sys.exit(1)
