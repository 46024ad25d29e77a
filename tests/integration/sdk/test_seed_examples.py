"""The usage examples of the UID2 SDK for Python reference, run as written against the official
SDK and then against ours with only the import line changed (issue 3). Both talk to the fake
operator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_operator import API_KEY, SECRET_B64, FakeOperator, raw_uid_for
from loopback_operator import serve

from uid2 import TokenGenerateInput, Uid2PublisherClient
from uid2.core.dii import hash_dii
from uid2.core.encoding import b64encode

EXAMPLES = sorted((Path(__file__).parent / "seed_examples").glob("*.py"))
USER_UID = b64encode(raw_uid_for(hash_dii("user@example.com")))


@pytest.fixture(scope="module")
def operator_url() -> Iterator[str]:
    with serve(FakeOperator()) as url:
        yield url


@pytest.fixture
def example_env(operator_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = Uid2PublisherClient(operator_url, API_KEY, SECRET_B64).generate_token(
        TokenGenerateInput.from_email("user@example.com")
    )
    identity = token.get_identity()
    assert identity is not None
    for name, value in {
        "UID2_BASE_URL": operator_url,
        "UID2_API_KEY": API_KEY,
        "UID2_SECRET_KEY": SECRET_B64,
        "UID2_TOKEN": identity.get_advertising_token() or "",
        "UID2_RAW_UID": USER_UID,
    }.items():
        monkeypatch.setenv(name, value)


def run_example(path: Path, package: str) -> object:
    source = path.read_text().replace("from uid2_client import", f"from {package} import")
    namespace: dict[str, object] = {"__name__": "__example__"}
    exec(compile(source, str(path), "exec"), namespace)  # the example is our own test file
    return namespace["RESULT"]


@pytest.mark.interop
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_with_the_official_sdk_and_with_ours(path: Path, example_env: None) -> None:
    theirs = run_example(path, "uid2_client")
    ours = run_example(path, "uid2")
    assert theirs and ours
    if path.stem != "publisher":  # publisher tokens are fresh per run
        assert theirs == ours == USER_UID
    assert os.environ["UID2_BASE_URL"].startswith("http://127.0.0.1:")
