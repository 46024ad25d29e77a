"""A full session of the installed ``uid2`` executable, then a dump of the database that must
contain no API key, client secret, key secret or CSTG private key in clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from uid2.core.encoding import b64decode_strict, b64encode
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine
from uid2.store.schema import metadata
from uid2.store.secrets import read_kek_file

UID2 = Path(sys.executable).parent / "uid2"


def _uid2(home: Path, db_url: str, *args: object) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UID2_")}
    env["UID2_HOME"] = str(home)
    argv = [str(UID2), *map(str, args), "--db", db_url, "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _session(home: Path, db_url: str) -> list[bytes]:
    """Run a session; return every secret it produced, as raw bytes and as text."""
    _uid2(home, db_url, "init", "--buckets", "16")
    site = _uid2(home, db_url, "participant", "create", "Pub", "--type", "publisher",
                 "--domain", "pub.com")["site_id"]  # fmt: skip
    key = _uid2(home, db_url, "apikey", "create", "--site", site, "--roles", "GENERATOR,SHARER")
    _uid2(home, db_url, "cstg-key", "create", "--site", site)
    _uid2(home, db_url, "keys", "rotate", "--force")
    _uid2(home, db_url, "salts", "rotate", "--fraction", "0.5")
    _uid2(home, db_url, "optout", "add", "--email", "someone@example.com")
    secret = b64decode_strict(key["secret"])
    assert secret is not None
    return [key["key"].encode(), key["secret"].encode(), secret, *_stored_secrets(home, db_url)]


def _stored_secrets(home: Path, db_url: str) -> list[bytes]:
    kek = read_kek_file(home / "kek")
    assert kek is not None
    engine = make_engine(db_url)
    try:
        with SqlAlchemyUnitOfWork(engine, SecretBox(kek)) as uow:
            keys = [k.secret for k in uow.keyset_keys.list_all()]
            private_keys = [p.private_key for p in uow.cstg_keypairs.list_all()]
            config = uow.salts.get_config()
    finally:
        engine.dispose()
    assert len(keys) >= 8 and len(private_keys) == 1 and config is not None
    der = b64decode_strict(private_keys[0][9:])
    assert der is not None
    texts = [b64encode(k) for k in keys] + private_keys + [private_keys[0][9:]]
    return keys + [der, config.first_level_salt.encode()] + [t.encode() for t in texts]


def _dump(db_url: str, home: Path) -> bytes:
    """Every row of every table (both databases), plus the raw SQLite file when there is one."""
    engine = make_engine(db_url)
    parts: list[bytes] = []
    try:
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    parts.extend(_as_bytes(value) for value in row)
    finally:
        engine.dispose()
    if db_url.startswith("sqlite"):
        parts.extend(p.read_bytes() for p in home.parent.glob("uid2.db*"))
    return b"\n".join(parts)


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return str(value).encode()


def test_no_secret_is_stored_in_clear(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    secrets = _session(home, db_url)
    dump = _dump(db_url, home)
    assert b"UID2-C-L-" in dump  # the dump is real: key ids are stored in clear
    leaked = [i for i, secret in enumerate(secrets) if secret in dump]
    assert leaked == []
