"""The opt-out webhooks page: adding (with field errors), disabling, and the delivery status."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

import httpx
from portal_world import ADMIN, ALICE, BOB, DANA, PortalClient, World

from uid2.admin import RecordOptOut, record_optout
from uid2.admin.webhook_delivery import RetryPolicy
from uid2.admin.webhook_worker import WebhookWorker, WorkerSettings
from uid2.core.enums import IdentityType
from uid2.store.records import DeliveryState

TEMPLATE = "https://dsp.example.com/optout?user=${ADVERTISING_ID}&ts=${OPTOUT_EPOCH}"
MINUTE_MS = 60_000


def _signed_in(world: World, email: str) -> PortalClient:
    client = world.client()
    assert client.sign_in(email).status_code == 303
    return client


def _add(client: PortalClient, site_id: int, template: str, method: str = "GET") -> object:
    page = f"/p/{site_id}/webhooks"
    return client.submit(page, page, {"url_template": template, "method": method})


def _webhooks(world: World, site_id: int) -> list[object]:
    with world.uow() as uow:
        return list(uow.webhooks.list_all(site_id))


def _row(text: str, webhook_id: int) -> str:
    found = re.search(rf'<tr id="webhook-{webhook_id}">(.*?)</tr>', text, re.S)
    assert found is not None, f"no row for webhook {webhook_id}"
    return found.group(1)


def _cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="{name}">([^<]*)</td>', row)
    assert found is not None
    return found.group(1)


def test_the_team_adds_a_webhook_and_sees_it_in_the_nav(world: World) -> None:
    client = _signed_in(world, BOB)  # Operations may manage webhooks
    news = world.sites["news"]
    assert f'href="/p/{news}/webhooks"' in client.get(f"/p/{news}").text
    done = _add(client, news, TEMPLATE, "POST")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"] == f"/p/{news}/webhooks?notice=webhook-added"  # type: ignore[attr-defined]
    (webhook,) = _webhooks(world, news)
    assert (webhook.url_template, webhook.method.value) == (TEMPLATE, "POST")  # type: ignore[attr-defined]
    page = client.get(f"/p/{news}/webhooks?notice=webhook-added")
    assert "It receives every opt-out recorded from now on" in page.text
    assert "${ADVERTISING_ID}" in _row(page.text, webhook.webhook_id)  # type: ignore[attr-defined]
    assert "webhook.create" in world.audit_actions()


def test_a_bad_template_is_refused_next_to_its_field_and_kept(world: World) -> None:
    client = _signed_in(world, DANA)
    dsp = world.sites["dsp"]
    typed = "https://dsp.example.com/optout?ts=${OPTOUT_EPOCH}"
    page = _add(client, dsp, typed)
    assert page.status_code == 400  # type: ignore[attr-defined]
    text = page.text  # type: ignore[attr-defined]
    assert 'id="url_template-error"' in text and "${ADVERTISING_ID}" in text
    assert 'aria-invalid="true"' in text and f'value="{typed}"' in text
    blank = _add(client, dsp, "  ")
    assert blank.status_code == 400 and "A URL is required" in blank.text  # type: ignore[attr-defined]
    method = _add(client, dsp, TEMPLATE, "DELETE")
    assert method.status_code == 400 and 'id="method-error"' in method.text  # type: ignore[attr-defined]
    assert _webhooks(world, dsp) == []


def test_only_platform_admins_may_point_a_webhook_at_a_private_address(world: World) -> None:
    dsp = world.sites["dsp"]
    local = "http://127.0.0.1:9000/optout?u=${ADVERTISING_ID}"
    refused = _add(_signed_in(world, DANA), dsp, local)
    assert refused.status_code == 400 and "must be public" in refused.text  # type: ignore[attr-defined]
    assert _add(_signed_in(world, ADMIN), dsp, local).status_code == 303  # type: ignore[attr-defined]
    assert len(_webhooks(world, dsp)) == 1


def test_other_participants_webhooks_are_out_of_reach(world: World) -> None:
    dsp, news = world.sites["dsp"], world.sites["news"]
    assert _add(_signed_in(world, DANA), dsp, TEMPLATE).status_code == 303  # type: ignore[attr-defined]
    (webhook,) = _webhooks(world, dsp)
    alice = _signed_in(world, ALICE)
    assert alice.get(f"/p/{dsp}/webhooks").status_code == 403
    assert _add(alice, dsp, TEMPLATE).status_code == 403  # type: ignore[attr-defined]
    # through her own participant's URL, the DSP's webhook does not exist
    action = f"/p/{news}/webhooks/{webhook.webhook_id}/disable"  # type: ignore[attr-defined]
    assert alice.submit(f"/p/{news}/webhooks", action, {}).status_code == 404
    assert not _webhooks(world, dsp)[0].disabled  # type: ignore[attr-defined]


def _deliver(world: World, script: list[int]) -> None:
    """Runs the worker once over the portal's store, against a scripted receiver."""
    statuses = list(script)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(statuses.pop(0) if statuses else 200)

    policy = RetryPolicy(base_ms=MINUTE_MS, cap_ms=10 * MINUTE_MS, max_attempts=5)
    worker = WebhookWorker(
        world.engine,
        world.box,
        WorkerSettings(timeout_s=1.0, concurrency=1, retry=policy),
        clock_ms=world.clock,
        random_unit=lambda: 0.0,
        transport=httpx.MockTransport(answer),
    )
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()


def test_the_status_shows_counts_the_backlog_age_and_failures_without_identities(
    world: World,
) -> None:
    client = _signed_in(world, DANA)
    dsp = world.sites["dsp"]
    _add(client, dsp, TEMPLATE)
    (webhook,) = _webhooks(world, dsp)
    webhook_id: int = webhook.webhook_id  # type: ignore[attr-defined]
    for n in range(4):
        record_optout(
            RecordOptOut(IdentityType.Email, f"u{n}@example.com"), world.uow(), world.ctx()
        )
    _deliver(world, [200, 404, 503, 200])  # one each: delivered, refused, retrying, delivered
    world.clock.advance(5 * MINUTE_MS)
    page = client.get(f"/p/{dsp}/webhooks")
    assert page.status_code == 200
    row = _row(page.text, webhook_id)
    assert [_cell(row, c) for c in ("delivered", "pending", "failed")] == ["2", "1", "1"]
    assert _cell(row, "oldest") == "5 min"
    assert re.search(r'id="backlog">Backlog: <strong>1</strong>', page.text)
    failures = page.text.split('id="failures"')[1].split("</table>")[0]
    assert "HTTP 404" in failures and "HTTP 503" in failures and "retrying" in failures
    assert re.search(r"<td>503</td>\s*<td>HTTP 503</td>", failures)
    with world.uow() as uow:
        raw_ids = [o.advertising_id for o in uow.optouts.list_since(0)]
    for raw in raw_ids:
        encoded = base64.b64encode(raw).decode()
        assert encoded not in page.text and quote(encoded, safe="") not in page.text


def test_disabling_stops_the_webhook_and_fails_its_backlog(world: World) -> None:
    client = _signed_in(world, DANA)
    dsp = world.sites["dsp"]
    _add(client, dsp, TEMPLATE)
    (webhook,) = _webhooks(world, dsp)
    webhook_id: int = webhook.webhook_id  # type: ignore[attr-defined]
    record_optout(RecordOptOut(IdentityType.Email, "late@example.com"), world.uow(), world.ctx())
    done = client.submit(f"/p/{dsp}/webhooks", f"/p/{dsp}/webhooks/{webhook_id}/disable", {})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "The webhook was disabled" in page.text
    row = _row(page.text, webhook_id)
    assert "disabled" in row and _cell(row, "pending") == "0" and _cell(row, "failed") == "1"
    assert "webhook disabled" in page.text
    with world.uow() as uow:
        (delivery,) = uow.webhook_deliveries.list_all()
        audit = [e for e in uow.audit.list_all() if e.action == "webhook.disable"]
    assert delivery.state is DeliveryState.FAILED
    assert [e.site_id for e in audit] == [dsp]
    missing = client.submit(f"/p/{dsp}/webhooks", f"/p/{dsp}/webhooks/999/disable", {})
    assert missing.status_code == 404
