"""Runs the `uid2` command with every log record written out, at DEBUG (used by
test_log_secrecy_e2e.py as ``python verbose_uid2.py ARGS...`` in place of ``uid2 ARGS...``).

`uid2` has no log-level option: `uid2 serve` hands uvicorn a fixed configuration (INFO, access
log off, the operator's own loggers not routed). This launcher stands for a deployment that
turns everything up:

- the root logger at DEBUG on stderr, with each record's logger name, so every library's
  records are kept (``uid2``'s, httpx's, httpcore's, alembic's, asyncio's, ...);
- SQLAlchemy's statement echo (``sqlalchemy.engine`` at INFO: what ``echo=True`` gives; the
  library keeps itself at WARNING unless told otherwise);
- uvicorn at DEBUG and its access log on, written to the file named by ``UID2_E2E_ACCESS_LOG``
  so the test can tell request lines from the rest.

Two switches are left off because they are dumps of the data itself, by design: uvicorn's
TRACE level (raw ASGI messages: every header, cookies and Authorization included) and
SQLAlchemy's DEBUG level (every result row).
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

ACCESS_LOG_ENV = "UID2_E2E_ACCESS_LOG"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config(access_log_path: str) -> dict[str, Any]:
    """uvicorn's own configuration, with the root logger (so every logger) at DEBUG and SQL
    statements echoed."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["named"] = {"format": FORMAT}
    config["handlers"]["everything"] = {
        "class": "logging.StreamHandler",
        "formatter": "named",
        "stream": "ext://sys.stderr",
    }
    config["handlers"]["access_file"] = {
        "class": "logging.FileHandler",
        "formatter": "access",
        "filename": access_log_path,
    }
    config["root"] = {"handlers": ["everything"], "level": "DEBUG"}
    config["loggers"]["sqlalchemy.engine"] = {"level": "INFO"}
    config["loggers"]["uvicorn"]["handlers"] = ["everything"]
    config["loggers"]["uvicorn.access"]["handlers"] = ["access_file"]
    return config


def _verbose_uvicorn_run(run: Any) -> Any:
    def run_verbosely(app: Any, **options: Any) -> None:
        path = os.environ.get(ACCESS_LOG_ENV) or os.devnull
        options.update(log_level="debug", access_log=True, log_config=log_config(path))
        run(app, **options)

    return run_verbosely


def _keep_uid2_at_debug() -> None:
    """`uid2 serve webhooks` gives the ``uid2`` logger a handler and INFO itself; put it at
    DEBUG (the HTTP client loggers it quiets, because webhook URLs hold raw UID2s, stay quiet).
    Its records stop there, or the root's handler would write each one twice."""
    import uid2.cli.webhooks as webhooks

    configure = webhooks._configure_logging

    def configure_then_debug() -> None:
        configure()
        logging.getLogger("uid2").setLevel(logging.DEBUG)
        logging.getLogger("uid2").propagate = False

    webhooks._configure_logging = configure_then_debug


def main() -> None:
    logging.basicConfig(level=logging.DEBUG, format=FORMAT, stream=sys.stderr)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # commands that serve nothing
    uvicorn.run = _verbose_uvicorn_run(uvicorn.run)
    _keep_uid2_at_debug()
    from uid2.cli import main as uid2_main

    sys.argv[0] = "uid2"
    uid2_main()


if __name__ == "__main__":
    main()
