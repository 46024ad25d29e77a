"""``uid2 serve ...``: run a service on uvicorn.

Workers are separate processes that each build their app from the environment (a uvicorn
factory), so the options given here are passed to them as environment variables.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import click

from uid2.cli.base import cli, db_option


@cli.group()
def serve() -> None:
    """Run a service: the operator API or the portal."""


@serve.command("operator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--poll-interval", type=click.FloatRange(0.1), default=None,
              help="Seconds between store-version polls (default 1).")  # fmt: skip
@db_option
def serve_operator(
    host: str, port: int, workers: int, poll_interval: float | None, db: str | None
) -> None:
    """Serve the UID2 operator API from the control plane (see `uid2 init`)."""
    from uid2.operator.app import create_app_from_env
    from uid2.operator.settings import SettingsError
    from uid2.operator.snapshot import SnapshotError

    if db is not None:
        os.environ["UID2_DATABASE_URL"] = db
    if poll_interval is not None:
        os.environ["UID2_OPERATOR_POLL_INTERVAL_SECONDS"] = str(poll_interval)
    try:
        create_app_from_env()  # fail here, in one line, if the store cannot be served
    except (SnapshotError, SettingsError) as error:
        raise click.ClickException(str(error)) from None
    run_factory("uid2.operator.app:create_app_from_env", host, port, workers, uid2_logs=False)


@serve.command("portal")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8081, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--dev", is_flag=True,
              help="Development: also log one-time links (invites, resets).")  # fmt: skip
@click.option("--insecure-cookies", is_flag=True,
              help="Let the session cookie travel over plain HTTP (no TLS).")  # fmt: skip
@db_option
def serve_portal(
    host: str, port: int, workers: int, dev: bool, insecure_cookies: bool, db: str | None
) -> None:
    """Serve the portal (web UI and JSON API) over the control plane."""
    from uid2.portal.app import create_app_from_env
    from uid2.portal.settings import SettingsError
    from uid2.store.errors import StoreError

    if db is not None:
        os.environ["UID2_DATABASE_URL"] = db
    if dev:
        os.environ["UID2_PORTAL_DEV"] = "true"
    if insecure_cookies:
        os.environ["UID2_PORTAL_SECURE_COOKIES"] = "false"
    try:
        create_app_from_env()  # fail here, in one line, if the store cannot be served
    except (SettingsError, StoreError) as error:
        raise click.ClickException(str(error)) from None
    run_factory("uid2.portal.app:create_app_from_env", host, port, workers)


def run_factory(
    factory: str,
    host: str,
    port: int,
    workers: int,
    *,
    log_level: str = "info",
    uid2_logs: bool = True,
) -> None:
    """Serve the app ``factory`` ("module:function") on uvicorn, one call per worker.

    Access logs are always off: portal paths carry one-time links and pixel URLs tokens.
    ``uid2_logs`` also sends the ``uid2`` loggers to the console.
    """
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        log_config=log_config_with("uid2") if uid2_logs else LOGGING_CONFIG,
    )


def log_config_with(logger: str) -> dict[str, Any]:
    """uvicorn's logging set-up, plus ``logger`` at INFO on its console handler (uvicorn only
    configures its own loggers, so the portal's development-mode links would go nowhere)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"][logger] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
