"""A PostgreSQL schema of its own for one test, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def fresh_schema(base_url: str, prefix: str) -> Iterator[str]:
    """Creates ``<prefix>_<random>`` and yields a URL whose search_path is it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server = create_engine(base_url)
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with server.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        server.dispose()
