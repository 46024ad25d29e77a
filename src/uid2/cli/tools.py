"""Tools that need no control plane: the walkthrough and bulk identity mapping."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from uid2.cli.base import cli
from uid2.sdk import bulk_map
from uid2.sdk.http import HttpSettings, RetryPolicy
from uid2.sdk.identity_map import IdentityMapClient, IdentityMapV3Client

# Bulk mapping expects 429s from a busy operator: wait longer than the SDK's default retries.
_BULK_RETRY = RetryPolicy(retry_intervals=(0.5, 1.0, 2.0, 4.0, 8.0, 16.0))


@cli.command()
def demo() -> None:
    """Run the guided walkthrough of the protocol core."""
    import uid2.walkthrough as walkthrough  # lazily: only this command needs it

    walkthrough.main()


@cli.command("map")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--operator", "base_url", envvar="UID2_BASE_URL", required=True,
              help="Operator base URL (or $UID2_BASE_URL).")  # fmt: skip
@click.option("--api-key", envvar="UID2_API_KEY", required=True,
              help="API key with the MAPPER role (or $UID2_API_KEY).")  # fmt: skip
@click.option("--secret", envvar="UID2_SECRET_KEY", required=True,
              help="Its client secret (or $UID2_SECRET_KEY).")  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Results CSV (default: standard output).")  # fmt: skip
@click.option("--api", type=click.Choice(["v3", "v2"]), default="v3", show_default=True,
              help="v3: previous UID2 and refresh time; v2: salt-bucket ids.")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(1, bulk_map.DEFAULT_BATCH_SIZE),
              default=bulk_map.DEFAULT_BATCH_SIZE, show_default=True)  # fmt: skip
@click.option("--parallel", type=click.IntRange(1, 20), default=bulk_map.DEFAULT_PARALLELISM,
              show_default=True, help="Requests in flight (docs: at most 20).")  # fmt: skip
def map_file(
    file: Path,
    base_url: str,
    api_key: str,
    secret: str,
    output: Path | None,
    api: str,
    batch_size: int,
    parallel: int,
) -> None:
    """Map a CSV of emails or phones to raw UID2s through an operator's identity map.

    FILE has a header naming an email, phone, email_hash or phone_hash column, or one bare
    column of emails and phones. The output keeps the input order, with the raw UID2, its
    bucket id (--api v2) or previous UID2 and refresh time (--api v3), and the reason for
    identities that did not map.
    """
    # Paths, not click.File: click leaves an eagerly opened file unclosed on a usage error.
    with file.open(encoding="utf-8", newline="") as source:
        rows = list(bulk_map.read_rows(source))
    settings = HttpSettings(retry=_BULK_RETRY)
    client: IdentityMapClient | IdentityMapV3Client
    if api == "v2":
        client = IdentityMapClient(base_url, api_key, secret, http_settings=settings)
        mapper = bulk_map.v2_mapper(client)
    else:
        client = IdentityMapV3Client(base_url, api_key, secret, http_settings=settings)
        mapper = bulk_map.v3_mapper(client)
    console = Console(stderr=True)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("mapping", total=len(rows))
            results = bulk_map.map_rows(
                mapper, rows, batch_size=batch_size, parallelism=parallel,
                on_batch=lambda n: progress.advance(task, n),
            )  # fmt: skip
            count = _write(results, output)
    finally:
        client.close()
    console.print(f"mapped {count} rows")


def _write(results: Iterable[bulk_map.OutputRow], output: Path | None) -> int:
    if output is None:
        return bulk_map.write_results(results, sys.stdout)
    with output.open("w", encoding="utf-8", newline="") as target:
        return bulk_map.write_results(results, target)
