"""Which failures the portal answers as "temporarily unavailable", wherever they are raised.

The session lookup every page and API call starts with is made to fail with each kind of
database failure (over a real SQLite store, signed in for real): connection failures become a
503 page or a 503 JSON error, with one fixed message that quotes nothing from the driver;
other database errors are bugs and stay a plain 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from portal_world import ALICE, BASE_URL, PortalClient, World, build_world
from sqlalchemy import exc

from uid2.portal.account_service import AccountService
from uid2.portal.errors import UNAVAILABLE_MESSAGE, PortalError
from uid2.store import SecretBox, make_engine, sqlite_url, upgrade_schema
from uid2.store.errors import StoreError, StoreErrorCode
from uid2.store.secrets import generate_kek

SECRET_IN_DRIVER_MESSAGE = "hunter2"  # a password in a connection string the driver quoted
DRIVER_ERROR = Exception(f"connection to postgresql://uid2:{SECRET_IN_DRIVER_MESSAGE}@db failed")
SQL = "SELECT portal_sessions.user_id FROM portal_sessions"

CONNECTION_FAILURES = [
    exc.OperationalError(SQL, {}, DRIVER_ERROR),
    exc.InterfaceError(SQL, {}, DRIVER_ERROR),
    exc.DBAPIError(SQL, {}, DRIVER_ERROR, connection_invalidated=True),
    exc.DisconnectionError(str(DRIVER_ERROR)),
    exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    exc.PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
    StoreError(StoreErrorCode.UNAVAILABLE, "cannot open the database"),
]
BUGS = [
    exc.ProgrammingError(SQL, {}, DRIVER_ERROR),
    exc.IntegrityError(SQL, {}, DRIVER_ERROR),
    exc.DBAPIError(SQL, {}, DRIVER_ERROR, connection_invalidated=False),
    RuntimeError(str(DRIVER_ERROR)),
]


@dataclass(frozen=True)
class SignedIn:
    world: World
    client: Any  # a PortalClient that answers 500s instead of raising

    def failing(self, monkeypatch: pytest.MonkeyPatch, error: Exception) -> Any:
        """The client, with every session lookup failing with ``error`` from now on."""

        def failing_lookup(self: AccountService, token: str) -> None:
            raise error

        monkeypatch.setattr(AccountService, "session", failing_lookup)
        return self.client


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedIn]:
    # one store and one sign-in for the module: argon2 makes each of them slow
    engine = make_engine(sqlite_url(tmp_path_factory.mktemp("portal") / "portal.db"))
    upgrade_schema(engine)
    world = build_world(engine, SecretBox(generate_kek()))
    client = PortalClient(
        world.app(), base_url=BASE_URL, follow_redirects=False, raise_server_exceptions=False
    )
    assert client.sign_in(ALICE).status_code == 303
    yield SignedIn(world, client)
    engine.dispose()


@pytest.mark.parametrize("error", CONNECTION_FAILURES, ids=lambda e: type(e).__name__)
def test_a_database_failure_in_the_session_lookup_is_a_503(
    signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    client = signed_in.failing(monkeypatch, error)
    news = signed_in.world.sites["news"]
    for path in ("/", f"/p/{news}/api-keys"):
        page = client.get(path)
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "<h1>Temporarily unavailable</h1>" in page.text
        assert UNAVAILABLE_MESSAGE in page.text
        assert SECRET_IN_DRIVER_MESSAGE not in page.text and "portal_sessions" not in page.text
    for response in (client.get("/api/v1/me"), client.delete("/api/v1/session")):
        assert response.status_code == 503
        assert response.json() == {
            "error": {"status": 503, "message": UNAVAILABLE_MESSAGE, "field": None}
        }


@pytest.mark.parametrize("error", BUGS, ids=lambda e: type(e).__name__)
def test_other_failures_stay_a_plain_500(
    signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    client = signed_in.failing(monkeypatch, error)
    for response in (client.get("/"), client.delete("/api/v1/session")):
        assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_a_refusal_raised_before_a_handler_runs_keeps_its_status(
    signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in.failing(monkeypatch, PortalError(403, "this account is locked"))
    page = client.get("/")
    assert page.status_code == 403 and "this account is locked" in page.text
    response = client.delete("/api/v1/session")  # signing out looks the session up unguarded
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this account is locked"
