"""Opt-out webhooks: a participant's URL template, called once per opt-out (system.md §2.3).

``create_webhook`` / ``disable_webhook`` are use cases (one transaction, journaled with the
site). ``enqueue_deliveries`` is called by whoever records an opt-out, in the same transaction,
so every opt-out reaches every enabled webhook (a webhook created later gets only later
opt-outs). Audit rows name the URL's scheme and host only: a template may carry the receiver's
own credentials in its query.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from uid2.admin.context import Context, journal
from uid2.admin.errors import AdminError, AdminErrorCode
from uid2.admin.lookups import require_site
from uid2.admin.webhook_delivery import ADVERTISING_ID, OPTOUT_EPOCH, PLACEHOLDERS, render_url
from uid2.store.records import DeliveryCounts, OptOutWebhook, WebhookDelivery, WebhookMethod
from uid2.store.uow import SqlAlchemyUnitOfWork

MAX_TEMPLATE_LENGTH = 2048
MAX_ENABLED_PER_SITE = 10
RECENT_PROBLEMS = 20
DISABLED_REASON = "webhook disabled"
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}?")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")


@dataclass(frozen=True, slots=True)
class CreateWebhook:
    site_id: int
    url_template: str
    method: str = "GET"
    # False where participants type the URL (the portal): no loopback, private or link-local
    # address literals, which would point the platform's own worker at its private network
    allow_local_hosts: bool = True


@dataclass(frozen=True, slots=True)
class DisableWebhook:
    webhook_id: int
    site_id: int | None = None  # when given, the webhook must belong to this participant


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    webhook: OptOutWebhook
    counts: DeliveryCounts


def _refuse(message: str) -> AdminError:
    return AdminError(AdminErrorCode.BAD_ARGUMENT, message)


def parse_method(text: str) -> WebhookMethod:
    try:
        return WebhookMethod(text.strip().upper())
    except ValueError:
        raise _refuse("the method must be GET or POST") from None


def parse_url_template(text: str, *, allow_local_hosts: bool = True) -> str:
    """An http(s) URL holding ``${ADVERTISING_ID}`` (and maybe ``${OPTOUT_EPOCH}``) in its path
    or query; the first problem found is raised as :class:`AdminError`."""
    template = text.strip()
    problem = _template_problem(template, allow_local_hosts)
    if problem is not None:
        raise _refuse(f"invalid URL template: {problem}")
    return template


def _template_problem(template: str, allow_local_hosts: bool) -> str | None:
    if not template:
        return "it is empty"
    if len(template) > MAX_TEMPLATE_LENGTH:
        return f"longer than {MAX_TEMPLATE_LENGTH} characters"
    if any(c.isspace() or not c.isprintable() for c in template):
        return "it holds spaces or control characters (percent-encode them)"
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - set(PLACEHOLDERS))
    if unknown:
        return f"unknown placeholder {unknown[0]} (use {ADVERTISING_ID} and {OPTOUT_EPOCH})"
    if ADVERTISING_ID not in template:
        return f"it must contain {ADVERTISING_ID}, where the raw UID2 goes"
    try:
        raw = urlsplit(template)
        parts = urlsplit(render_url(template, bytes(32), 0))
        if parts.port == 0:  # reading .port raises ValueError for a malformed one
            return "the port must not be 0"
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it must start with http:// or https:// and name a host"
    if "$" in raw.netloc:
        return "placeholders belong in the path or the query, not the host"
    if raw.fragment:
        return "a #fragment is never sent: put the placeholders in the query"
    if not allow_local_hosts and _is_local(parts.hostname):
        return "the host must be public (not localhost, a private or a link-local address)"
    return None


def _is_local(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # a name: where it resolves is not checked here
    return not address.is_global


def _audit_host(template: str) -> str:
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.hostname}"


def create_webhook(cmd: CreateWebhook, uow: SqlAlchemyUnitOfWork, ctx: Context) -> OptOutWebhook:
    template = parse_url_template(cmd.url_template, allow_local_hosts=cmd.allow_local_hosts)
    method = parse_method(cmd.method)
    with uow:
        site = require_site(uow, cmd.site_id)
        enabled = [w for w in uow.webhooks.list_all(site.site_id) if not w.disabled]
        if len(enabled) >= MAX_ENABLED_PER_SITE:
            raise AdminError(
                AdminErrorCode.NOT_ALLOWED,
                f"a participant has at most {MAX_ENABLED_PER_SITE} enabled webhooks",
            )
        webhook = OptOutWebhook(0, site.site_id, template, method, ctx.now_s, False)
        webhook_id = uow.webhooks.add(webhook)
        details = {"method": method.value, "host": _audit_host(template)}
        journal(
            uow, ctx, "webhook.create", f"webhook:{webhook_id}", details, [], site_id=site.site_id
        )
        uow.commit()
    return OptOutWebhook(webhook_id, site.site_id, template, method, ctx.now_s, False)


def disable_webhook(cmd: DisableWebhook, uow: SqlAlchemyUnitOfWork, ctx: Context) -> OptOutWebhook:
    """Stops the webhook; its undelivered opt-outs become failed ("webhook disabled")."""
    with uow:
        webhook = uow.webhooks.get(cmd.webhook_id)
        if webhook is None or cmd.site_id not in (None, webhook.site_id):
            raise _refuse(f"unknown webhook {cmd.webhook_id}")
        if webhook.disabled:
            return webhook
        uow.webhooks.set_disabled(webhook.webhook_id, True)
        deliveries = uow.webhook_deliveries
        dropped = deliveries.fail_pending(webhook.webhook_id, DISABLED_REASON, ctx.now_ms)
        target = f"webhook:{webhook.webhook_id}"
        details = {"disabled": True, "undelivered": dropped}
        journal(uow, ctx, "webhook.disable", target, details, [], site_id=webhook.site_id)
        uow.commit()
    return OptOutWebhook(
        webhook.webhook_id,
        webhook.site_id,
        webhook.url_template,
        webhook.method,
        webhook.created_s,
        True,
    )


def list_webhooks(uow: SqlAlchemyUnitOfWork, site_id: int | None = None) -> list[WebhookStatus]:
    """Webhooks (one participant's, or all) with their outbox counts, enabled ones first."""
    with uow:
        if site_id is not None:
            require_site(uow, site_id)
        hooks = uow.webhooks.list_all(site_id)
        counts = uow.webhook_deliveries.counts(w.webhook_id for w in hooks)
    statuses = [WebhookStatus(w, counts.get(w.webhook_id, DeliveryCounts())) for w in hooks]
    return sorted(statuses, key=lambda s: (s.webhook.disabled, s.webhook.webhook_id))


def recent_problems(
    uow: SqlAlchemyUnitOfWork, site_id: int, limit: int = RECENT_PROBLEMS
) -> list[WebhookDelivery]:
    """The participant's latest failed or retrying deliveries (status, attempts; no identity)."""
    with uow:
        ids = [w.webhook_id for w in uow.webhooks.list_all(site_id)]
        return uow.webhook_deliveries.recent_problems(ids, limit)


def enqueue_deliveries(uow: SqlAlchemyUnitOfWork, optout_seq: int, now_ms: int) -> int:
    """One pending delivery of opt-out ``optout_seq`` per enabled webhook, in the caller's
    transaction (the one that recorded the opt-out); returns how many."""
    return uow.webhook_deliveries.enqueue(uow.webhooks.enabled_ids(), optout_seq, now_ms)


def webhook_view(status: WebhookStatus, now_ms: int) -> dict[str, Any]:
    """What ``uid2 webhook list --json`` prints: the template (not a raw UID2) and the backlog."""
    webhook, counts = status.webhook, status.counts
    oldest = counts.oldest_pending_ms
    return {
        "webhook_id": webhook.webhook_id,
        "site_id": webhook.site_id,
        "method": webhook.method.value,
        "url_template": webhook.url_template,
        "disabled": webhook.disabled,
        "created": webhook.created_s,
        "delivered": counts.delivered,
        "pending": counts.pending,
        "failed": counts.failed,
        "oldest_pending_age_s": None if oldest is None else max(0, now_ms - oldest) // 1000,
    }
