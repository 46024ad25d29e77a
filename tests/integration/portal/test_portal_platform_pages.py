"""Platform admin pages: participants, keys and salts, opt-out lookup, users."""

from __future__ import annotations

import re

from portal_world import ADMIN, ALICE, PortalClient, World

from uid2.admin import RecordOptOut, record_optout
from uid2.core.enums import IdentityType
from uid2.store.records import ParticipantType

LINK = re.compile(r"https://testserver/set-password/([A-Za-z0-9_-]+)")


def _admin(world: World) -> PortalClient:
    client = world.client()
    assert client.sign_in(ADMIN).status_code == 303
    return client


def test_platform_pages_are_for_platform_admins_only(world: World) -> None:
    client = world.client()
    client.sign_in(ALICE)
    for path in ("/platform/participants", "/platform/keys", "/platform/optout",
                 "/platform/users", "/platform/audit"):  # fmt: skip
        assert client.get(path).status_code == 403, path
    response = client.submit(
        f"/p/{world.sites['news']}", "/platform/participants", {"name": "X", "types": "dsp"}
    )
    assert response.status_code == 403


def test_creating_a_participant_validates_every_field_and_writes_nothing_on_error(
    world: World,
) -> None:
    client = _admin(world)
    page = "/platform/participants"
    no_types = client.submit(page, page, {"name": "Fresh Co"})
    assert no_types.status_code == 400 and 'id="types-error"' in no_types.text
    assert 'value="Fresh Co"' in no_types.text
    duplicate = client.submit(page, page, {"name": "News Co", "types": ["dsp"]})
    assert duplicate.status_code == 409 and 'aria-invalid="true"' in duplicate.text
    empty = client.submit(page, page, {"name": "  ", "types": ["dsp"]})
    assert empty.status_code == 400 and 'id="name-error"' in empty.text
    created = client.submit(page, page, {"name": "Fresh Co", "types": ["dsp", "advertiser"]})
    assert created.status_code == 303
    with world.uow() as uow:
        names = [s.name for s in uow.sites.list_all()]
        fresh = uow.sites.get_by_name("Fresh Co")
    assert names.count("Fresh Co") == 1 and len(names) == 5
    assert fresh is not None
    assert fresh.types == {ParticipantType.DSP, ParticipantType.ADVERTISER}


def test_editing_a_participant_is_one_transaction(world: World) -> None:
    client = _admin(world)
    news = world.sites["news"]
    page = f"/platform/participants/{news}"
    clash = client.submit(page, page, {"name": "Bid Co", "types": ["publisher", "dsp"]})
    assert clash.status_code == 409
    with world.uow() as uow:
        site = uow.sites.get(news)
    assert site is not None and site.types == {ParticipantType.PUBLISHER}
    done = client.submit(page, page, {"name": "News Group", "types": ["publisher", "dsp"]})
    assert done.status_code == 303
    with world.uow() as uow:
        site = uow.sites.get(news)
    assert site is not None
    assert (site.name, site.enabled) == ("News Group", False)  # "enabled" was not ticked
    assert site.types == {ParticipantType.PUBLISHER, ParticipantType.DSP}


def test_keys_page_rotates_keys_and_salts_and_shows_bucket_ages(world: World) -> None:
    client = _admin(world)
    text = client.get("/platform/keys").text
    assert "16 buckets" in text and "0-30 days" in text and "master" in text
    assert "keyset(s) rotated" not in text
    young = client.submit("/platform/keys", "/platform/keys/rotate", {})
    assert "0 keyset(s) rotated" in young.text  # keys made at init are younger than a day
    forced = client.submit("/platform/keys", "/platform/keys/rotate", {"force": "on"})
    assert re.search(r"[1-9]\d* keyset\(s\) rotated", forced.text)
    bad = client.submit("/platform/keys", "/platform/salts/rotate", {"fraction": "2"})
    assert bad.status_code == 400 and 'id="fraction-error"' in bad.text
    world.clock.advance(2 * 86_400_000)
    client.sign_in(ADMIN)  # the session has expired meanwhile
    salts = client.submit("/platform/keys", "/platform/salts/rotate", {"fraction": "0.5"})
    assert "8 of 16 buckets rotated" in salts.text
    assert "keys.rotate" in world.audit_actions() and "salts.rotate" in world.audit_actions()


def test_opt_out_lookup_and_record_never_echo_the_identity(world: World) -> None:
    client = _admin(world)
    page = "/platform/optout"
    email = "someone@example.com"
    before = client.submit(page, page, {"identity_type": "email", "identity": email})
    assert "Not opted out." in before.text and email not in before.text
    record_optout(RecordOptOut(IdentityType.Email, email), world.uow(), world.ctx())
    after = client.submit(
        page, page, {"identity_type": "email", "identity": " Someone@Example.com"}
    )
    assert "Opted out since" in after.text and "omeone" not in after.text
    bad = client.submit(page, page, {"identity_type": "phone", "identity": "99887"})
    assert bad.status_code == 400 and 'id="identity-error"' in bad.text and "99887" not in bad.text
    recorded = client.submit(
        page, page, {"identity_type": "phone", "identity": "+12345678901", "record": "yes"}
    )
    assert "Opted out since" in recorded.text and "optout.add" in world.audit_actions()


def test_users_page_hands_out_invite_links(world: World) -> None:
    client = _admin(world)
    page = client.submit("/platform/users", "/platform/users", {"email": "ops@platform.example"})
    found = LINK.search(page.text)
    assert page.status_code == 200 and found is not None
    duplicate = client.submit("/platform/users", "/platform/users", {"email": ALICE})
    assert duplicate.status_code == 409
    with world.uow() as uow:
        alice = uow.users.get_by_email(ALICE)
    assert alice is not None
    reset = client.submit("/platform/users", f"/platform/users/{alice.user_id}/link", {})
    assert "Password reset link" in reset.text and LINK.search(reset.text) is not None


def test_health_and_metrics(world: World) -> None:
    client = world.client()
    assert client.get("/healthz").text == "OK"
    client.get("/login")
    metrics = client.get("/metrics").text
    assert 'uid2_portal_http_requests_total{method="GET",route="/login",status="200"}' in metrics


def test_ids_too_large_for_the_database_are_unknown_not_errors(world: World) -> None:
    client = _admin(world)
    huge = "9" * 30
    assert client.get(f"/p/{huge}").status_code == 404
    assert client.get(f"/platform/participants/{huge}").status_code == 404
    news = world.sites["news"]
    response = client.submit(f"/p/{news}/team", f"/p/{news}/team/{huge}/role", {"role": "admin"})
    assert response.status_code == 404
    assert client.get("/platform/audit", params={"before": huge}).status_code == 400
