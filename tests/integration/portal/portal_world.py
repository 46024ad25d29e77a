"""A portal over a real SQLite (or PostgreSQL) store, driven through Starlette's TestClient.

The client talks to ``https://testserver`` so that the Secure session cookie comes back, as it
does in a browser. The clock is fixed and moved by hand; entropy is the system's.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

import uid2.admin.accounts as accounts
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
from uid2.portal.app import create_app
from uid2.portal.settings import PortalSettings
from uid2.store import SecretBox, SqlAlchemyUnitOfWork
from uid2.store.records import MemberRole

with warnings.catch_warnings():  # starlette asks for httpx2; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
PASSWORD = "correct horse battery staple"
ADMIN = "root@platform.example"
ALICE = "alice@news.example"  # Admin of News
BOB = "bob@news.example"  # Operations at News
DANA = "dana@dsp.example"  # Admin of the DSP
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BASE_URL = "https://testserver"


class Clock:
    def __init__(self, now_ms: int = T0_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


@dataclass
class World:
    engine: Engine
    box: SecretBox
    clock: Clock
    sites: dict[str, int] = field(default_factory=dict)

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box)

    def ctx(self) -> Context:
        return Context(now_ms=self.clock(), actor="test", entropy=system_entropy())

    def app(self, settings: PortalSettings | None = None) -> Any:
        settings = settings or PortalSettings(login_attempts_per_minute=10_000)
        return create_app(settings, self.engine, self.box, clock_ms=self.clock)

    def client(self, settings: PortalSettings | None = None) -> PortalClient:
        return PortalClient(self.app(settings), base_url=BASE_URL, follow_redirects=False)

    def audit_actions(self) -> list[str]:
        with self.uow() as uow:
            return [e.action for e in uow.audit.list_all()]


def build_world(engine: Engine, box: SecretBox) -> World:
    world = World(engine, box, Clock())
    initialize_store(InitializeStore(None, 16), world.uow(), world.ctx())
    for key, name, kind in (
        ("news", "News Co", ParticipantType.PUBLISHER),
        ("dsp", "Bid Co", ParticipantType.DSP),
        ("adv", "Shoe Shop", ParticipantType.ADVERTISER),
        ("data", "Data Co", ParticipantType.DATA_PROVIDER),
    ):
        site = create_participant(
            CreateParticipant(name, frozenset({kind})), world.uow(), world.ctx()
        )
        world.sites[key] = site.site_id
    accounts.create_user(accounts.CreateUser(ADMIN, PASSWORD, True), world.uow(), world.ctx())
    for email, site, role in (
        (ALICE, "news", MemberRole.ADMIN),
        (BOB, "news", MemberRole.OPERATIONS),
        (DANA, "dsp", MemberRole.ADMIN),
    ):
        accounts.create_user(accounts.CreateUser(email, PASSWORD), world.uow(), world.ctx())
        cmd = accounts.InviteMember(world.sites[site], email, role)
        accounts.invite_member(cmd, world.uow(), world.ctx())
    return world


def give_keyset(world: World, site: str, role: Role = Role.SHARER) -> None:
    """An API key, so that the site has a keyset to share."""
    cmd = CreateApiKey(world.sites[site], frozenset({role}), f"{site}-bootstrap")
    create_api_key(cmd, world.uow(), world.ctx())


class PortalClient(TestClient):
    def csrf(self, path: str = "/login") -> str:
        page = self.get(path)
        found = CSRF.search(page.text)
        assert found is not None, f"no CSRF token on {path} ({page.status_code})"
        return found.group(1)

    def sign_in(self, email: str, password: str = PASSWORD) -> Any:
        token = self.csrf("/login")
        return self.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def submit(self, page: str, action: str, data: dict[str, Any]) -> Any:
        """Posts a form the way a browser does after showing ``page``."""
        return self.post(action, data={**data, "csrf_token": self.csrf(page)})
