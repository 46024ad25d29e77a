"""``uvicorn uid2.operator.app:create_app_from_env --factory --workers 2`` against a SQLite store:
the composition the CLI's ``uid2 serve operator --workers N`` uses, in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import uid2_client as official
from operator_server import free_port

from uid2.admin import (
    Context,
    CreateApiKey,
    CreateParticipant,
    InitializeStore,
    ParticipantType,
    Role,
    create_api_key,
    create_participant,
    initialize_store,
    system_entropy,
)
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url, upgrade_schema
from uid2.store.secrets import encode_kek, generate_kek

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _ctx() -> Context:
    return Context(now_ms=time.time_ns() // 1_000_000, actor="test", entropy=system_entropy())


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            with urllib.request.urlopen(url + "/ops/healthcheck", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the operator did not become healthy")


def test_two_workers_serve_the_store(tmp_path: Path) -> None:
    url_db = sqlite_url(tmp_path / "uid2.db")
    engine = make_engine(url_db)
    upgrade_schema(engine)
    kek = generate_kek()
    box = SecretBox(kek)
    initialize_store(InitializeStore(bucket_count=64), SqlAlchemyUnitOfWork(engine, box), _ctx())
    kinds = frozenset({ParticipantType.PUBLISHER})
    site = create_participant(
        CreateParticipant("Pub", kinds), SqlAlchemyUnitOfWork(engine, box), _ctx()
    )
    roles = frozenset({Role.GENERATOR})
    key = create_api_key(
        CreateApiKey(site.site_id, roles), SqlAlchemyUnitOfWork(engine, box), _ctx()
    )
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "UID2_DATABASE_URL": url_db,
        "UID2_KEK": encode_kek(kek),
        "UID2_OPERATOR_POLL_INTERVAL_SECONDS": "1",
    }
    command = [
        sys.executable, "-m", "uvicorn", "uid2.operator.app:create_app_from_env", "--factory",
        "--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process)
        client = official.Uid2PublisherClient(url, key.key, key.secret)
        for i in range(6):  # spread over both workers
            email = f"worker{i}@example.com"
            response = client.generate_token(official.TokenGenerateInput.from_email(email))
            assert response.is_success()
            assert client.refresh_token(response.get_identity()).is_success()
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stderr:
            process.stderr.close()


def test_the_factory_refuses_an_uninitialised_store(tmp_path: Path) -> None:
    url_db = sqlite_url(tmp_path / "empty.db")
    engine = make_engine(url_db)
    upgrade_schema(engine)
    engine.dispose()
    env = {**os.environ, "UID2_DATABASE_URL": url_db, "UID2_KEK": encode_kek(generate_kek())}
    code = "from uid2.operator.app import create_app_from_env; create_app_from_env()"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert b"run `uid2 init`" in result.stderr
