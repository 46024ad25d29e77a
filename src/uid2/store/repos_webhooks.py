"""Opt-out webhooks and their delivery outbox.

The outbox is written in the opt-out's own transaction (one pending row per enabled webhook), so
an opt-out is never recorded without its deliveries. The worker claims due rows by pushing their
``next_attempt_ms`` past a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sends them outside
any transaction, then records each outcome; a worker that dies mid-send leaves its rows to be
claimed again when the lease runs out, which is what makes delivery at-least-once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from uid2.store.records import (
    Backlog,
    DeliveryCounts,
    DeliveryOutcome,
    DeliveryState,
    DueDelivery,
    OptOutWebhook,
    WebhookDelivery,
    WebhookMethod,
)
from uid2.store.schema import optout_webhooks, optouts, webhook_deliveries

_PENDING = DeliveryState.PENDING.value


class SqlAlchemyWebhookRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, webhook: OptOutWebhook) -> int:
        """Stores ``webhook`` (its ``webhook_id`` is ignored) and returns the id assigned."""
        result = self._db.execute(
            insert(optout_webhooks).values(
                site_id=webhook.site_id,
                url_template=webhook.url_template,
                method=webhook.method.value,
                created_s=webhook.created_s,
                disabled=webhook.disabled,
            )
        )
        (webhook_id,) = result.inserted_primary_key or (0,)
        return int(webhook_id)

    def get(self, webhook_id: int) -> OptOutWebhook | None:
        query = select(optout_webhooks).where(optout_webhooks.c.webhook_id == webhook_id)
        row = self._db.execute(query).first()
        return None if row is None else _to_webhook(row)

    def list_all(self, site_id: int | None = None) -> list[OptOutWebhook]:
        query = select(optout_webhooks).order_by(optout_webhooks.c.webhook_id)
        if site_id is not None:
            query = query.where(optout_webhooks.c.site_id == site_id)
        return [_to_webhook(row) for row in self._db.execute(query)]

    def enabled_ids(self) -> list[int]:
        query = select(optout_webhooks.c.webhook_id).where(optout_webhooks.c.disabled.is_(False))
        return [int(webhook_id) for webhook_id in self._db.scalars(query)]

    def set_disabled(self, webhook_id: int, disabled: bool) -> None:
        query = update(optout_webhooks).where(optout_webhooks.c.webhook_id == webhook_id)
        self._db.execute(query.values(disabled=disabled))


def _to_webhook(row: Row[tuple[object, ...]]) -> OptOutWebhook:
    return OptOutWebhook(
        webhook_id=int(row.webhook_id),
        site_id=int(row.site_id),
        url_template=row.url_template,
        method=WebhookMethod(row.method),
        created_s=int(row.created_s),
        disabled=bool(row.disabled),
    )


class SqlAlchemyWebhookDeliveryRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def enqueue(self, webhook_ids: Iterable[int], optout_seq: int, now_ms: int) -> int:
        rows = [
            {
                "webhook_id": webhook_id,
                "optout_seq": optout_seq,
                "state": _PENDING,
                "attempts": 0,
                "created_ms": now_ms,
                "next_attempt_ms": now_ms,
            }
            for webhook_id in webhook_ids
        ]
        if rows:
            self._db.execute(insert(webhook_deliveries), rows)
        return len(rows)

    def has_due(self, now_ms: int) -> bool:
        d = webhook_deliveries
        query = select(d.c.webhook_id).where(d.c.state == _PENDING, d.c.next_attempt_ms <= now_ms)
        return self._db.execute(query.limit(1)).first() is not None

    def claim_due(self, now_ms: int, limit: int, lease_until_ms: int) -> list[DueDelivery]:
        """Up to ``limit`` pending rows due by ``now_ms`` on enabled webhooks, oldest due first;
        they are not due again before ``lease_until_ms`` unless an outcome is recorded."""
        d, w = webhook_deliveries, optout_webhooks
        query = (
            select(
                d.c.webhook_id,
                d.c.optout_seq,
                d.c.attempts,
                w.c.url_template,
                w.c.method,
                optouts.c.advertising_id,
                optouts.c.created_s,
            )
            .select_from(
                d.join(w, d.c.webhook_id == w.c.webhook_id).join(
                    optouts, d.c.optout_seq == optouts.c.seq
                )
            )
            .where(d.c.state == _PENDING, d.c.next_attempt_ms <= now_ms, w.c.disabled.is_(False))
            .order_by(d.c.next_attempt_ms, d.c.optout_seq, d.c.webhook_id)
            .limit(limit)
            # PostgreSQL: a second worker skips these rows; SQLite compiles no FOR UPDATE (its
            # writers are serialised by BEGIN IMMEDIATE).
            .with_for_update(skip_locked=True, of=d)
        )
        claimed = [
            DueDelivery(
                webhook_id=int(row.webhook_id),
                optout_seq=int(row.optout_seq),
                attempts=int(row.attempts),
                url_template=row.url_template,
                method=WebhookMethod(row.method),
                advertising_id=bytes(row.advertising_id),
                optout_created_s=int(row.created_s),
            )
            for row in self._db.execute(query)
        ]
        if claimed:
            lease = (
                update(d)
                .where(
                    d.c.webhook_id == bindparam("b_webhook_id"),
                    d.c.optout_seq == bindparam("b_optout_seq"),
                )
                .values(next_attempt_ms=lease_until_ms)
            )
            keys = [{"b_webhook_id": c.webhook_id, "b_optout_seq": c.optout_seq} for c in claimed]
            self._db.execute(lease, keys)
        return claimed

    def record(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Saves each outcome over a row still pending (a disabled webhook's rows stay failed)."""
        if not outcomes:
            return
        d = webhook_deliveries
        query = (
            update(d)
            .where(
                d.c.webhook_id == bindparam("b_webhook_id"),
                d.c.optout_seq == bindparam("b_optout_seq"),
                d.c.state == _PENDING,
            )
            .values(
                state=bindparam("b_state"),
                attempts=bindparam("b_attempts"),
                next_attempt_ms=bindparam("b_next_attempt_ms"),
                last_attempt_ms=bindparam("b_last_attempt_ms"),
                last_status=bindparam("b_last_status"),
                last_error=bindparam("b_last_error"),
                delivered_ms=bindparam("b_delivered_ms"),
            )
        )
        self._db.execute(query, [_outcome_params(o) for o in outcomes])

    def fail_pending(self, webhook_id: int, reason: str, now_ms: int) -> int:
        """Every pending row of ``webhook_id`` becomes failed with ``reason``."""
        d = webhook_deliveries
        query = (
            update(d)
            .where(d.c.webhook_id == webhook_id, d.c.state == _PENDING)
            .values(state=DeliveryState.FAILED.value, last_error=reason, next_attempt_ms=now_ms)
        )
        return int(self._db.execute(query).rowcount or 0)

    def get(self, webhook_id: int, optout_seq: int) -> WebhookDelivery | None:
        d = webhook_deliveries
        query = select(d).where(d.c.webhook_id == webhook_id, d.c.optout_seq == optout_seq)
        row = self._db.execute(query).first()
        return None if row is None else _to_delivery(row)

    def list_all(self) -> list[WebhookDelivery]:
        d = webhook_deliveries
        query = select(d).order_by(d.c.optout_seq, d.c.webhook_id)
        return [_to_delivery(row) for row in self._db.execute(query)]

    def counts(self, webhook_ids: Iterable[int]) -> dict[int, DeliveryCounts]:
        """Per webhook: rows in each state and the oldest pending row's creation time."""
        ids = list(webhook_ids)
        if not ids:
            return {}
        found: dict[int, dict[str, int]] = {i: {} for i in ids}
        oldest: dict[int, int] = {}
        d = webhook_deliveries
        query = (
            select(d.c.webhook_id, d.c.state, func.count(), func.min(d.c.created_ms))
            .where(d.c.webhook_id.in_(ids))
            .group_by(d.c.webhook_id, d.c.state)
        )
        for webhook_id, state, count, first_ms in self._db.execute(query):
            found[int(webhook_id)][state] = int(count)
            if state == _PENDING:
                oldest[int(webhook_id)] = int(first_ms)
        return {
            i: DeliveryCounts(
                delivered=found[i].get(DeliveryState.DELIVERED.value, 0),
                pending=found[i].get(_PENDING, 0),
                failed=found[i].get(DeliveryState.FAILED.value, 0),
                oldest_pending_ms=oldest.get(i),
            )
            for i in ids
        }

    def backlog(self) -> Backlog:
        """One aggregate over the pending rows only (the ``state, next_attempt_ms`` index finds
        them), so it costs the same however many delivered rows the outbox keeps."""
        d = webhook_deliveries
        query = select(func.count(), func.min(d.c.created_ms)).where(d.c.state == _PENDING)
        pending, oldest_ms = self._db.execute(query).one()
        return Backlog(int(pending), None if oldest_ms is None else int(oldest_ms))

    def recent_problems(self, webhook_ids: Iterable[int], limit: int) -> list[WebhookDelivery]:
        """Failed rows and pending rows that failed at least once, latest attempt first."""
        ids = list(webhook_ids)
        if not ids:
            return []
        d = webhook_deliveries
        query = (
            select(d)
            .where(
                d.c.webhook_id.in_(ids),
                d.c.state.in_([_PENDING, DeliveryState.FAILED.value]),
                d.c.last_error.is_not(None),
            )
            .order_by(func.coalesce(d.c.last_attempt_ms, 0).desc(), d.c.optout_seq.desc())
            .limit(limit)
        )
        return [_to_delivery(row) for row in self._db.execute(query)]


def _outcome_params(outcome: DeliveryOutcome) -> dict[str, object]:
    return {
        "b_webhook_id": outcome.webhook_id,
        "b_optout_seq": outcome.optout_seq,
        "b_state": outcome.state.value,
        "b_attempts": outcome.attempts,
        "b_next_attempt_ms": outcome.next_attempt_ms,
        "b_last_attempt_ms": outcome.last_attempt_ms,
        "b_last_status": outcome.last_status,
        "b_last_error": outcome.last_error,
        "b_delivered_ms": outcome.delivered_ms,
    }


def _to_delivery(row: Row[tuple[object, ...]]) -> WebhookDelivery:
    return WebhookDelivery(
        webhook_id=int(row.webhook_id),
        optout_seq=int(row.optout_seq),
        state=DeliveryState(row.state),
        attempts=int(row.attempts),
        created_ms=int(row.created_ms),
        next_attempt_ms=int(row.next_attempt_ms),
        last_attempt_ms=None if row.last_attempt_ms is None else int(row.last_attempt_ms),
        last_status=None if row.last_status is None else int(row.last_status),
        last_error=row.last_error,
        delivered_ms=None if row.delivered_ms is None else int(row.delivered_ms),
    )
