"""A participant's pages, over the HTML forms: keys, client-side setup, sharing, team, audit."""

from __future__ import annotations

import re

from portal_world import ADMIN, ALICE, BOB, DANA, PortalClient, World, give_keyset

import uid2.admin.accounts as accounts
from uid2.store.records import MemberRole, ParticipantType, Role

KEY = re.compile(r'<code id="api-key">([^<]+)</code>')
SECRET = re.compile(r'<code id="api-secret">([^<]+)</code>')


def _signed_in(world: World, email: str) -> PortalClient:
    client = world.client()
    assert client.sign_in(email).status_code == 303
    return client


def _keys(world: World, site: str) -> list[object]:
    with world.uow() as uow:
        return list(uow.api_keys.list_for_site(world.sites[site]))


def test_an_api_key_and_its_secret_are_shown_once(world: World) -> None:
    client = _signed_in(world, BOB)  # Operations may manage keys
    news = world.sites["news"]
    page = client.submit(
        f"/p/{news}/api-keys", f"/p/{news}/api-keys", {"name": "prod", "roles": ["GENERATOR"]}
    )
    key, secret = KEY.search(page.text), SECRET.search(page.text)
    assert page.status_code == 200 and key is not None and secret is not None
    assert page.headers["cache-control"] == "no-store"
    listing = client.get(f"/p/{news}/api-keys").text
    assert "prod" in listing and key.group(1) not in listing and secret.group(1) not in listing
    (stored,) = _keys(world, "news")
    assert stored.roles == frozenset({Role.GENERATOR})  # type: ignore[attr-defined]


def test_roles_outside_the_participants_types_are_refused_next_to_the_field(
    world: World,
) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    page = client.submit(
        f"/p/{news}/api-keys", f"/p/{news}/api-keys", {"name": "bidder", "roles": ["ID_READER"]}
    )
    assert page.status_code == 400
    assert 'id="roles-error"' in page.text and "ID_READER" in page.text
    assert 'value="bidder"' in page.text  # what was typed is kept
    assert _keys(world, "news") == []


def test_editing_a_key_is_all_or_nothing(world: World) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    for name in ("one", "two"):
        client.submit(f"/p/{news}/api-keys", f"/p/{news}/api-keys",
                      {"name": name, "roles": ["GENERATOR"]})  # fmt: skip
    one = next(k for k in _keys(world, "news") if k.name == "one")  # type: ignore[attr-defined]
    clash = client.submit(
        f"/p/{news}/api-keys",
        f"/p/{news}/api-keys/{one.key_id}/edit",
        {"name": "two", "roles": ["GENERATOR", "SHARER"]},
    )
    assert clash.status_code == 409 and 'id="name-error"' in clash.text
    unchanged = next(k for k in _keys(world, "news") if k.key_id == one.key_id)  # type: ignore[attr-defined]
    assert unchanged.roles == frozenset({Role.GENERATOR}) and unchanged.name == "one"  # type: ignore[attr-defined]
    done = client.submit(
        f"/p/{news}/api-keys",
        f"/p/{news}/api-keys/{one.key_id}/edit",
        {"name": "one-renamed", "roles": ["GENERATOR", "SHARER"]},
    )
    assert done.status_code == 303
    changed = next(k for k in _keys(world, "news") if k.key_id == one.key_id)  # type: ignore[attr-defined]
    assert (changed.name, changed.roles) == ("one-renamed", {Role.GENERATOR, Role.SHARER})  # type: ignore[attr-defined]


def test_disabling_a_key_needs_its_id_typed(world: World) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    give_keyset(world, "news", Role.GENERATOR)
    (key,) = _keys(world, "news")
    action = f"/p/{news}/api-keys/{key.key_id}/disable"  # type: ignore[attr-defined]
    wrong = client.submit(f"/p/{news}/api-keys", action, {"confirm_key_id": "nope"})
    assert wrong.status_code == 400 and "type the key id" in wrong.text
    assert not _keys(world, "news")[0].disabled  # type: ignore[attr-defined]
    right = client.submit(f"/p/{news}/api-keys", action, {"confirm_key_id": key.key_id})  # type: ignore[attr-defined]
    assert right.status_code == 303 and _keys(world, "news")[0].disabled  # type: ignore[attr-defined]


def test_keys_of_another_participant_are_out_of_reach(world: World) -> None:
    give_keyset(world, "dsp", Role.ID_READER)
    (dsp_key,) = _keys(world, "dsp")
    client = _signed_in(world, ALICE)
    news, dsp = world.sites["news"], world.sites["dsp"]
    assert client.get(f"/p/{dsp}/api-keys").status_code == 403
    action = f"/p/{news}/api-keys/{dsp_key.key_id}/disable"  # type: ignore[attr-defined]
    response = client.submit(f"/p/{news}/api-keys", action, {"confirm_key_id": dsp_key.key_id})  # type: ignore[attr-defined]
    assert response.status_code == 404 and not _keys(world, "dsp")[0].disabled  # type: ignore[attr-defined]


def test_domains_are_pasted_in_bulk_reduced_to_root_domains_and_validated(world: World) -> None:
    client = _signed_in(world, BOB)
    news = world.sites["news"]
    page, action = f"/p/{news}/client-side", f"/p/{news}/client-side/domains"
    pasted = "https://shop.example.com/cart, news.example.co.uk\nexample.org;EXAMPLE.org"
    assert client.submit(page, action, {"domains": pasted, "mode": "append"}).status_code == 303
    with world.uow() as uow:
        site = uow.sites.get(news)
    assert site is not None
    assert site.domain_names == ("example.co.uk", "example.com", "example.org")
    bad = client.submit(
        page, action, {"domains": "good.example.net not_a_domain!", "mode": "append"}
    )
    assert bad.status_code == 400 and 'id="domains-error"' in bad.text
    assert "not_a_domain!" in bad.text  # the typed text is kept for correction
    removed = client.submit(page, action, {"domains": "", "remove": ["example.org"]})
    assert removed.status_code == 303
    replaced = client.submit(page, action, {"domains": "only.example.net", "mode": "replace"})
    assert replaced.status_code == 303
    with world.uow() as uow:
        site = uow.sites.get(news)
    assert site is not None and site.domain_names == ("example.net",)


def test_app_ids_are_validated(world: World) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    page, action = f"/p/{news}/client-side", f"/p/{news}/client-side/app-names"
    ok = client.submit(page, action, {"app_names": "com.news.app 123456789", "mode": "append"})
    assert ok.status_code == 303
    bad = client.submit(page, action, {"app_names": "no spaces allowed here", "mode": "append"})
    assert bad.status_code == 400 and 'id="app_names-error"' in bad.text
    with world.uow() as uow:
        site = uow.sites.get(news)
    assert site is not None and site.app_names == ("123456789", "com.news.app")


def test_client_side_keys_show_their_public_key_and_can_be_disabled(world: World) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    page = f"/p/{news}/client-side"
    assert client.submit(page, page + "/keypairs", {"name": "web"}).status_code == 303
    listing = client.get(page).text
    assert "UID2-X-" in listing and "UID2-Y-" not in listing
    with world.uow() as uow:
        (pair,) = [p for p in uow.cstg_keypairs.list_all() if p.site_id == news]
    action = f"{page}/keypairs/{pair.subscription_id}/disable"
    assert client.submit(page, action, {"confirm_subscription_id": "x"}).status_code == 400
    done = client.submit(page, action, {"confirm_subscription_id": pair.subscription_id})
    assert done.status_code == 303 and pair.subscription_id not in client.get(page).text


def test_sharing_needs_a_keyset_first(world: World) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    assert "has no encryption keyset yet" in client.get(f"/p/{news}/sharing").text
    response = client.submit(f"/p/{news}/sharing", f"/p/{news}/sharing/types", {"types": "dsp"})
    assert response.status_code == 409


def test_granting_by_type_and_one_by_one_shows_who_can_decrypt(world: World) -> None:
    give_keyset(world, "adv")
    world_adv = world.sites["adv"]
    cmd = accounts.InviteMember(world_adv, BOB, MemberRole.ADMIN)
    accounts.invite_member(cmd, world.uow(), world.ctx())
    client = _signed_in(world, BOB)
    page = f"/p/{world_adv}/sharing"
    text = client.get(page).text
    assert "Nobody yet." in text and "recommended" in text
    assert client.submit(page, page + "/types", {"types": ["dsp"]}).status_code == 303
    text = client.get(page).text
    assert "Bid Co" in text.split('id="readers"')[1].split("</ul>")[0]
    data = world.sites["data"]
    searched = client.get(page, params={"q": "data", "type": "data_provider"}).text
    assert (
        f'value="{data}"' in searched and "News Co" not in searched.split("Grant participants")[1]
    )
    assert client.submit(page, page + "/grant", {"sites": [str(data)]}).status_code == 303
    readers = client.get(page).text.split('id="readers"')[1].split("</ul>")[0]
    assert "Bid Co" in readers and "Data Co" in readers
    assert client.submit(page, page + "/revoke", {"sites": [str(data)]}).status_code == 303
    assert client.submit(page, page + "/types", {}).status_code == 303
    assert "Nobody yet." in client.get(page).text
    with world.uow() as uow:
        keyset = uow.keysets.default_for_site(world_adv)
    assert keyset is not None
    assert keyset.allowed_sites == frozenset() and keyset.allowed_types == frozenset()


def test_a_grant_to_an_unknown_site_writes_nothing(world: World) -> None:
    give_keyset(world, "news")
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    page = f"/p/{news}/sharing"
    before = world.audit_actions()
    response = client.submit(page, page + "/grant", {"sites": ["999999"]})
    assert response.status_code == 404 and world.audit_actions() == before


def test_team_admins_invite_and_change_roles_within_the_guards(world: World) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    page = f"/p/{news}/team"
    with world.uow() as uow:
        alice = uow.users.get_by_email(ALICE)
        bob = uow.users.get_by_email(BOB)
    assert alice is not None and bob is not None
    demote_self = client.submit(page, f"{page}/{alice.user_id}/role", {"role": "operations"})
    assert demote_self.status_code == 409 and "your own Admin role" in demote_self.text
    remove_self = client.submit(page, f"{page}/{alice.user_id}/remove", {})
    assert remove_self.status_code == 409 and "cannot remove yourself" in remove_self.text
    assert client.submit(page, f"{page}/{bob.user_id}/role", {"role": "admin"}).status_code == 303
    bad_email = client.submit(page, page + "/invite", {"email": "not-an-email", "role": "admin"})
    assert bad_email.status_code == 400 and 'id="email-error"' in bad_email.text
    twice = client.submit(page, page + "/invite", {"email": BOB, "role": "admin"})
    assert twice.status_code == 409 and "already a team member" in twice.text
    assert client.submit(page, f"{page}/{bob.user_id}/remove", {}).status_code == 303
    with world.uow() as uow:
        assert uow.memberships.get(bob.user_id, news) is None


def test_operations_members_cannot_manage_the_team_or_read_the_audit(world: World) -> None:
    client = _signed_in(world, BOB)
    news = world.sites["news"]
    assert client.get(f"/p/{news}/audit").status_code == 403
    team = client.get(f"/p/{news}/team").text
    assert "Invite a team member" not in team
    before = world.audit_actions()
    response = client.post(
        f"/p/{news}/team/invite",
        data={"email": "x@news.example", "role": "admin", "csrf_token": client.csrf(f"/p/{news}")},
    )
    assert response.status_code == 403 and world.audit_actions() == before


def test_the_audit_trail_holds_only_the_participants_own_changes(world: World) -> None:
    give_keyset(world, "dsp", Role.ID_READER)
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    client.submit(f"/p/{news}/api-keys", f"/p/{news}/api-keys",
                  {"name": "audited", "roles": ["GENERATOR"]})  # fmt: skip
    text = client.get(f"/p/{news}/audit").text
    assert "apikey.create" in text and "audited" in text and "dsp-bootstrap" not in text
    platform = _signed_in(world, ADMIN).get("/platform/audit").text
    assert "audited" in platform and "dsp-bootstrap" in platform


def test_the_home_page_prompts_for_the_next_steps(world: World) -> None:
    client = _signed_in(world, DANA)
    dsp = world.sites["dsp"]
    text = client.get(f"/p/{dsp}").text
    assert "Set up an integration" in text and "ID_READER" in text
    assert ParticipantType.DSP.value in text


def test_key_ids_with_a_slash_route_to_their_key(world: World) -> None:
    client = _signed_in(world, ALICE)
    news = world.sites["news"]
    for attempt in range(200):  # key ids are base64: about one in 13 holds a "/"
        client.submit(f"/p/{news}/api-keys", f"/p/{news}/api-keys",
                      {"name": f"k{attempt}", "roles": ["GENERATOR"]})  # fmt: skip
        slashed = [k for k in _keys(world, "news") if "/" in k.key_id]  # type: ignore[attr-defined]
        if slashed:
            break
    key = slashed[0]
    action = f"/p/{news}/api-keys/{key.key_id}/disable"  # type: ignore[attr-defined]
    response = client.submit(f"/p/{news}/api-keys", action, {"confirm_key_id": key.key_id})  # type: ignore[attr-defined]
    assert response.status_code == 303
    assert next(k for k in _keys(world, "news") if k.key_id == key.key_id).disabled  # type: ignore[attr-defined]
