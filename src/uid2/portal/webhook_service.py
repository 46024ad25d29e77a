"""A participant's opt-out webhooks in the portal: add, disable, and the delivery status.

Admins and Operations of the participant (and platform admins) manage them. Only platform
admins may point a webhook at localhost or a private address: the worker calls these URLs from
inside the platform's network. The page shows counts, ages, statuses and attempts, never a raw
UID2 (rendered URLs are never built here).
"""

from __future__ import annotations

from dataclasses import dataclass

from uid2.admin.errors import AdminError
from uid2.admin.webhooks import (
    CreateWebhook,
    DisableWebhook,
    WebhookStatus,
    create_webhook,
    disable_webhook,
    list_webhooks,
    parse_method,
    parse_url_template,
    recent_problems,
)
from uid2.portal.errors import bad_field, not_found
from uid2.portal.runtime import Principal, Runtime, mapped_errors
from uid2.store.records import OptOutWebhook, WebhookDelivery


@dataclass(frozen=True, slots=True)
class WebhooksOverview:
    webhooks: tuple[WebhookStatus, ...]  # enabled first
    problems: tuple[WebhookDelivery, ...]  # latest failed or retrying deliveries
    now_ms: int

    @property
    def backlog(self) -> int:
        return sum(s.counts.pending for s in self.webhooks)

    def oldest_pending_age_s(self, status: WebhookStatus) -> int | None:
        oldest = status.counts.oldest_pending_ms
        return None if oldest is None else max(0, self.now_ms - oldest) // 1000


class WebhookService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def overview(self, principal: Principal, site_id: int) -> WebhooksOverview:
        principal.require_member(site_id)
        with mapped_errors():
            statuses = list_webhooks(self._rt.reader(), site_id)
            problems = recent_problems(self._rt.reader(), site_id)
        return WebhooksOverview(tuple(statuses), tuple(problems), self._rt.clock_ms())

    def add(
        self, principal: Principal, site_id: int, url_template: str, method: str
    ) -> OptOutWebhook:
        principal.require_member(site_id)
        local = principal.is_platform_admin
        try:
            template = parse_url_template(url_template, allow_local_hosts=local)
        except AdminError as error:
            raise bad_field("url_template", error.message) from None
        try:
            parse_method(method)
        except AdminError as error:
            raise bad_field("method", error.message) from None
        cmd = CreateWebhook(site_id, template, method, allow_local_hosts=local)
        with mapped_errors():
            return create_webhook(cmd, self._rt.uow(), self._rt.context(principal.actor))

    def disable(self, principal: Principal, site_id: int, webhook_id: int) -> OptOutWebhook:
        principal.require_member(site_id)
        with mapped_errors():
            mine = {s.webhook.webhook_id for s in list_webhooks(self._rt.reader(), site_id)}
            if webhook_id not in mine:
                raise not_found("unknown webhook")
            cmd = DisableWebhook(webhook_id, site_id)
            return disable_webhook(cmd, self._rt.uow(), self._rt.context(principal.actor))
