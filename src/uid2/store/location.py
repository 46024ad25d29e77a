"""Where the control plane lives: its database URL and its key-encryption key.

Shared by every process that opens the store (the CLI and each service's ``create_app``), so
they agree on the defaults. It reads the mapping it is given (``os.environ`` at the callers),
never the environment itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from uid2.store.database import sqlite_url
from uid2.store.secrets import decode_kek, read_kek_file

DEFAULT_HOME = ".uid2"
DATABASE_FILE = "uid2.db"
KEK_FILE = "kek"


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """``UID2_HOME`` (default ``./.uid2``), ``UID2_DATABASE_URL`` and ``UID2_KEK``."""

    home: Path
    database_url: str | None
    kek_text: str | None = field(repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> StoreLocation:
        return cls(
            home=Path(environ.get("UID2_HOME") or DEFAULT_HOME),
            database_url=environ.get("UID2_DATABASE_URL") or None,
            kek_text=environ.get("UID2_KEK") or None,
        )

    @property
    def kek_file(self) -> Path:
        return self.home / KEK_FILE

    def url(self, override: str | None = None) -> str:
        """``override`` (a ``--db`` option), else ``UID2_DATABASE_URL``, else the SQLite file."""
        return override or self.database_url or sqlite_url(self.home / DATABASE_FILE)

    def kek(self) -> bytes | None:
        """The KEK from ``UID2_KEK``, else from the key file; None if neither exists."""
        if self.kek_text is not None:
            return decode_kek(self.kek_text)
        return read_kek_file(self.kek_file)
