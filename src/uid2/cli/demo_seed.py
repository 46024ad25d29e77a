"""The demo data `uid2 up` seeds once and reuses: participants, keys, grants and logins.

Keys and passwords are shown once by the use cases that make them, so the first run writes
them to ``$UID2_HOME/demo.json`` (mode 0600) for later runs. That file is a development
convenience: it holds demo secrets in clear, next to the KEK file.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import uid2.admin as admin
import uid2.admin.accounts as accounts
from uid2.admin.sharing import UpdateSharing, update_sharing
from uid2.cli.base import Runtime, context
from uid2.store.records import MemberRole

DEMO_FILE = "demo.json"
ADVERTISER, DSP, DATA = "Demo Shoe Shop", "Demo Bid Co", "Demo Data Co"
PARTICIPANTS = (
    (ADVERTISER, admin.ParticipantType.ADVERTISER, ("localhost",)),
    (DSP, admin.ParticipantType.DSP, ()),
    (DATA, admin.ParticipantType.DATA_PROVIDER, ()),
)
LOGINS = (
    ("admin@demo.uid2.example", None, None),  # platform admin
    ("shop@demo.uid2.example", ADVERTISER, MemberRole.ADMIN),
    ("dsp@demo.uid2.example", DSP, MemberRole.ADMIN),
)


def load_or_seed(rt: Runtime) -> dict[str, Any]:
    path = rt.settings.home / DEMO_FILE
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        with rt.reader() as uow:
            if all(uow.sites.get(int(site)) is not None for site in data["sites"].values()):
                return data
    data = _seed(rt)
    _write_private(path, json.dumps(data, indent=2))
    return data


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _site(rt: Runtime, name: str, kind: admin.ParticipantType, domains: tuple[str, ...]) -> int:
    existing = [s for s in admin.list_participants(rt.reader()) if s.name == name]
    if existing:
        return existing[0].site_id
    cmd = admin.CreateParticipant(name, frozenset({kind}), domain_names=domains)
    return admin.create_participant(cmd, rt.uow(), context()).site_id


def _key(rt: Runtime, site_id: int, role: admin.Role, name: str) -> dict[str, str]:
    cmd = admin.CreateApiKey(site_id, frozenset({role}), f"{name} {secrets.token_hex(3)}")
    created = admin.create_api_key(cmd, rt.uow(), context())
    return {"key": created.key, "secret": created.secret}


def _login(rt: Runtime, email: str, site_id: int | None, role: MemberRole | None) -> dict[str, Any]:
    password = secrets.token_urlsafe(12)
    with rt.reader() as uow:
        exists = uow.users.get_by_email(email) is not None
    if not exists:
        cmd = accounts.CreateUser(email, password, platform_admin=site_id is None)
        accounts.create_user(cmd, rt.uow(), context())
    if site_id is not None and role is not None:
        try:
            accounts.invite_member(accounts.InviteMember(site_id, email, role), rt.uow(), context())
        except admin.AdminError:
            pass  # already a member from an earlier seed
    return {"email": email, "password": None if exists else password}


def _seed(rt: Runtime) -> dict[str, Any]:
    sites = {name: _site(rt, name, kind, domains) for name, kind, domains in PARTICIPANTS}
    keys = {
        "advertiser_receiver": _key(rt, sites[ADVERTISER], admin.Role.SHARER, "demo receiver"),
        "dsp_receiver": _key(rt, sites[DSP], admin.Role.SHARER, "demo receiver"),
        "data_mapper": _key(rt, sites[DATA], admin.Role.MAPPER, "demo mapper"),
    }
    cstg = admin.create_cstg_keypair(
        admin.CreateCstgKeypair(sites[ADVERTISER], "demo shop"), rt.uow(), context()
    )
    for sender, receiver in ((ADVERTISER, DSP), (DSP, ADVERTISER)):
        cmd = UpdateSharing(sites[sender], add_sites=frozenset({sites[receiver]}))
        update_sharing(cmd, rt.uow(), context())
    logins = [
        _login(rt, email, None if site is None else sites[site], role)
        for email, site, role in LOGINS
    ]
    return {
        "sites": sites,
        "keys": keys,
        "cstg": {"subscription_id": cstg.subscription_id, "public_key": cstg.public_key},
        "logins": logins,
    }
