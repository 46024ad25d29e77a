"""Opt-out webhooks: validation, the outbox written with each opt-out, rendering, the retry
schedule, and the worker's claim / send / record cycle (on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine

import uid2.admin.optouts as optouts_module
from uid2.admin import (
    AdminError,
    AdminErrorCode,
    Context,
    CreateParticipant,
    ParticipantType,
    RecordOptOut,
    create_participant,
    record_optout,
)
from uid2.admin.webhook_delivery import (
    Attempt,
    RetryPolicy,
    Verdict,
    backoff_ms,
    outcome,
    parse_retry_after,
    render_url,
)
from uid2.admin.webhook_worker import WebhookWorker, WorkerSettings
from uid2.admin.webhooks import (
    CreateWebhook,
    DisableWebhook,
    create_webhook,
    disable_webhook,
    enqueue_deliveries,
    list_webhooks,
    parse_url_template,
    recent_problems,
)
from uid2.core.enums import IdentityType
from uid2.operator.store_source import StoreOptOutSink
from uid2.store import (
    SecretBox,
    SqlAlchemyUnitOfWork,
    StoreError,
    StoreErrorCode,
    make_engine,
    sqlite_url,
)
from uid2.store.records import DeliveryState, DueDelivery, WebhookMethod
from uid2.store.repos_webhooks import SqlAlchemyWebhookDeliveryRepository

T0_MS = 1_767_225_600_000
TEMPLATE = "https://dsp.example.com/optout?user=${ADVERTISING_ID}&ts=${OPTOUT_EPOCH}"
NewUow = Callable[[], SqlAlchemyUnitOfWork]

pytestmark = pytest.mark.usefixtures("initialized")


def _dsp(new_uow: NewUow, ctx: Context, name: str = "Bidder") -> int:
    cmd = CreateParticipant(name, frozenset({ParticipantType.DSP}))
    return create_participant(cmd, new_uow(), ctx).site_id


def _optout(new_uow: NewUow, ctx: Context, email: str) -> int:
    return record_optout(RecordOptOut(IdentityType.Email, email), new_uow(), ctx).seq


def _deliveries(new_uow: NewUow) -> list[tuple[int, int, DeliveryState]]:
    with new_uow() as uow:
        return [(d.webhook_id, d.optout_seq, d.state) for d in uow.webhook_deliveries.list_all()]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("", "empty"),
        ("https://dsp.example.com/optout?ts=${OPTOUT_EPOCH}", "${ADVERTISING_ID}"),
        ("ftp://dsp.example.com/${ADVERTISING_ID}", "http:// or https://"),
        ("dsp.example.com/?u=${ADVERTISING_ID}", "http:// or https://"),
        ("https:///?u=${ADVERTISING_ID}", "http:// or https://"),
        ("https://dsp.example.com/?u=${ADVERTISING_ID}&x=${USER}", "unknown placeholder ${USER}"),
        ("https://dsp.example.com/?u=${ADVERTISING_ID", "unknown placeholder"),
        ("https://dsp.example.com/a b?u=${ADVERTISING_ID}", "spaces"),
        ("https://${ADVERTISING_ID}.example.com/", "not the host"),
        ("https://dsp.example.com/#u=${ADVERTISING_ID}", "fragment"),
        ("https://dsp.example.com:99999/?u=${ADVERTISING_ID}", "not a valid URL"),
        ("https://dsp.example.com/?u=${ADVERTISING_ID}&p=" + "x" * 2048, "longer than"),
    ],
)
def test_a_bad_template_is_refused_with_its_reason(template: str, problem: str) -> None:
    with pytest.raises(AdminError) as refused:
        parse_url_template(template)
    assert refused.value.code is AdminErrorCode.BAD_ARGUMENT
    assert problem in refused.value.message


@pytest.mark.parametrize(
    "template",
    [
        TEMPLATE,
        "http://127.0.0.1:8099/optout/${ADVERTISING_ID}",  # the epoch is optional
        "  https://dsp.example.com/o?identity=${ADVERTISING_ID}&timestamp=${OPTOUT_EPOCH}  ",
    ],
)
def test_a_good_template_is_kept_as_typed_but_trimmed(template: str) -> None:
    assert parse_url_template(template) == template.strip()


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "10.1.2.3", "[::1]", "169.254.169.254", "db.internal"]
)
def test_local_hosts_are_refused_where_participants_type_the_url(host: str) -> None:
    template = f"http://{host}/optout?u=${{ADVERTISING_ID}}"
    assert parse_url_template(template) == template  # the platform's own tools may
    with pytest.raises(AdminError, match="must be public"):
        parse_url_template(template, allow_local_hosts=False)


def test_creating_needs_an_existing_participant_and_a_known_method(
    new_uow: NewUow, ctx: Context
) -> None:
    with pytest.raises(AdminError) as unknown:
        create_webhook(CreateWebhook(999, TEMPLATE), new_uow(), ctx)
    assert unknown.value.code is AdminErrorCode.UNKNOWN_SITE
    site = _dsp(new_uow, ctx)
    with pytest.raises(AdminError, match="GET or POST"):
        create_webhook(CreateWebhook(site, TEMPLATE, "PUT"), new_uow(), ctx)
    assert list_webhooks(new_uow(), site) == []


def test_create_list_and_disable_are_journaled_for_the_participant(
    new_uow: NewUow, ctx: Context
) -> None:
    site = _dsp(new_uow, ctx)
    secret_query = TEMPLATE + "&api_key=receiver-credential"
    created = create_webhook(CreateWebhook(site, secret_query, "post"), new_uow(), ctx)
    assert (created.method, created.disabled, created.site_id) == (WebhookMethod.POST, False, site)
    (listed,) = list_webhooks(new_uow(), site)
    assert listed.webhook == created and listed.counts.pending == 0
    disabled = disable_webhook(DisableWebhook(created.webhook_id), new_uow(), ctx)
    assert disabled.disabled
    assert disable_webhook(DisableWebhook(created.webhook_id), new_uow(), ctx).disabled
    with new_uow() as uow:
        rows = [e for e in uow.audit.list_all() if e.action.startswith("webhook.")]
    assert [(e.action, e.site_id) for e in rows] == [
        ("webhook.create", site),
        ("webhook.disable", site),
    ]
    assert all("receiver-credential" not in e.details and "optout" not in e.details for e in rows)
    assert '"host":"https://dsp.example.com"' in rows[0].details


def test_disabling_someone_elses_webhook_is_refused(new_uow: NewUow, ctx: Context) -> None:
    mine, theirs = _dsp(new_uow, ctx, "Mine"), _dsp(new_uow, ctx, "Theirs")
    webhook = create_webhook(CreateWebhook(theirs, TEMPLATE), new_uow(), ctx)
    for cmd in (DisableWebhook(webhook.webhook_id, mine), DisableWebhook(12345)):
        with pytest.raises(AdminError, match="unknown webhook"):
            disable_webhook(cmd, new_uow(), ctx)
    assert not list_webhooks(new_uow(), theirs)[0].webhook.disabled


# --- the outbox -------------------------------------------------------------------------------


def test_each_optout_gets_one_pending_delivery_per_enabled_webhook(
    new_uow: NewUow, ctx: Context
) -> None:
    site = _dsp(new_uow, ctx)
    first = create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx).webhook_id
    off = create_webhook(CreateWebhook(site, TEMPLATE + "&b=1"), new_uow(), ctx).webhook_id
    disable_webhook(DisableWebhook(off), new_uow(), ctx)
    early = _optout(new_uow, ctx, "early@example.com")
    later = create_webhook(CreateWebhook(site, TEMPLATE + "&c=1"), new_uow(), ctx).webhook_id
    late = _optout(new_uow, ctx, "late@example.com")
    pending = DeliveryState.PENDING
    assert sorted(_deliveries(new_uow)) == sorted(
        [(first, early, pending), (first, late, pending), (later, late, pending)]
    )  # the later webhook gets no older opt-out, the disabled one gets none
    counts = {s.webhook.webhook_id: s.counts for s in list_webhooks(new_uow(), site)}
    assert (counts[first].pending, counts[later].pending, counts[off].pending) == (2, 1, 0)
    assert counts[first].oldest_pending_ms == ctx.now_ms


def test_the_outbox_rows_share_the_optout_transaction(
    new_uow: NewUow, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = _dsp(new_uow, ctx)
    create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx)

    def enqueue_then_fail(uow: SqlAlchemyUnitOfWork, seq: int, now_ms: int) -> int:
        assert enqueue_deliveries(uow, seq, now_ms) == 1
        raise RuntimeError("crash after the outbox row, before commit")

    monkeypatch.setattr(optouts_module, "enqueue_deliveries", enqueue_then_fail)
    with pytest.raises(RuntimeError):
        _optout(new_uow, ctx, "crash@example.com")
    with new_uow() as uow:
        assert uow.optouts.list_since(0) == [] and uow.webhook_deliveries.list_all() == []
    monkeypatch.undo()
    seq = _optout(new_uow, ctx, "ok@example.com")
    assert [(s, state) for _, s, state in _deliveries(new_uow)] == [(seq, DeliveryState.PENDING)]


def test_logout_optouts_reach_the_outbox_too(
    engine: Engine, box: SecretBox, new_uow: NewUow, ctx: Context
) -> None:
    site = _dsp(new_uow, ctx)
    webhook = create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx).webhook_id
    StoreOptOutSink(engine, box).record(b"\x01" * 32, b"\x02" * 32, T0_MS + 5_000)
    with new_uow() as uow:
        (optout,) = uow.optouts.list_since(0)
    assert _deliveries(new_uow) == [(webhook, optout.seq, DeliveryState.PENDING)]


# --- rendering and the retry schedule (pure) --------------------------------------------------


def test_the_url_carries_the_quoted_raw_uid2_and_the_epoch_in_seconds() -> None:
    raw = bytes.fromhex("fb" * 31 + "ff")  # base64 with "+", "/" and "="
    url = render_url(TEMPLATE, raw, 1_767_225_600)
    encoded = base64.b64encode(raw).decode()
    assert "+" in encoded and "/" in encoded and encoded.endswith("=")
    query = parse_qs(urlsplit(url).query)
    assert query == {"user": [encoded], "ts": ["1767225600"]}
    assert "+" not in url.split("?")[1] and "/" not in url.split("?")[1]
    path_template = "https://dsp.example.com/o/${ADVERTISING_ID}/${OPTOUT_EPOCH}"
    assert urlsplit(render_url(path_template, raw, 7)).path.count("/") == 3


def test_backoff_doubles_up_to_the_cap_and_jitter_spreads_it() -> None:
    policy = RetryPolicy(base_ms=1_000, cap_ms=60_000, jitter_floor=0.5)
    top = [backoff_ms(n, 0.999_999, policy) for n in range(10)]
    assert top == [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]
    low = [backoff_ms(n, 0.0, policy) for n in range(10)]
    assert low == [t // 2 for t in top]
    assert backoff_ms(5, 0.5, policy) == 24_000  # min(cap, 1 s * 2**5) * 0.75
    assert backoff_ms(10_000, 0.5, policy) == 45_000  # huge attempt counts stay capped


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (201, Verdict.REFUSED),
        (301, Verdict.REFUSED),
        (400, Verdict.REFUSED),
        (404, Verdict.REFUSED),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
    ],
)
def test_statuses_follow_the_optout_sender(status: int, verdict: Verdict) -> None:
    assert Attempt(status).verdict is verdict


def test_an_outcome_schedules_retries_and_gives_up_at_the_limit() -> None:
    policy = RetryPolicy(base_ms=100, cap_ms=1_000, max_attempts=3)
    due = DueDelivery(1, 7, 0, TEMPLATE, WebhookMethod.GET, b"\x00" * 32, 1)
    first = outcome(due, Attempt(None, "ConnectError"), T0_MS, 0.0, policy)
    assert (first.state, first.attempts, first.next_attempt_ms) == (
        DeliveryState.PENDING,
        1,
        T0_MS + 50,
    )
    assert first.last_error == "ConnectError" and first.last_status is None
    slow = outcome(due, Attempt(429, retry_after_ms=800), T0_MS, 0.0, policy)
    assert slow.next_attempt_ms == T0_MS + 800 and slow.last_error == "HTTP 429"
    last = outcome(
        DueDelivery(1, 7, 2, TEMPLATE, WebhookMethod.GET, b"", 1), Attempt(503), T0_MS, 0.5, policy
    )
    assert (last.state, last.attempts, last.last_error) == (
        DeliveryState.FAILED,
        3,
        "HTTP 503; gave up",
    )
    done = outcome(due, Attempt(204), T0_MS, 0.5, policy)
    assert (done.state, done.delivered_ms, done.last_error) == (
        DeliveryState.DELIVERED,
        T0_MS,
        None,
    )
    assert parse_retry_after("7", policy) == 1_000 and parse_retry_after("soon", policy) is None


# --- the worker over the store ----------------------------------------------------------------


class Receiver:
    """An httpx transport answering from a script of statuses (then 200), recording calls."""

    def __init__(self, script: list[int | type[Exception]]) -> None:
        self.script = list(script)
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, type):
            raise step("simulated", request=request)  # type: ignore[call-arg]
        return httpx.Response(step)


class Clock:
    def __init__(self) -> None:
        self.now_ms = T0_MS

    def __call__(self) -> int:
        return self.now_ms


def _worker(
    engine: Engine, box: SecretBox, receiver: Receiver, clock: Clock, concurrency: int = 4
) -> WebhookWorker:
    retry = RetryPolicy(base_ms=1_000, cap_ms=8_000, max_attempts=4)
    config = WorkerSettings(timeout_s=1.0, concurrency=concurrency, retry=retry)
    return WebhookWorker(
        engine,
        box,
        config,
        clock_ms=clock,
        random_unit=lambda: 0.999_999,
        transport=httpx.MockTransport(receiver),
    )


def test_the_worker_retries_until_delivered_and_never_logs_the_identity(
    engine: Engine,
    box: SecretBox,
    new_uow: NewUow,
    ctx: Context,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    site = _dsp(new_uow, ctx)
    webhook = create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx).webhook_id
    seq = _optout(new_uow, ctx, "retry@example.com")
    receiver, clock = Receiver([503, httpx.ConnectError, httpx.ReadTimeout]), Clock()
    worker = _worker(engine, box, receiver, clock)
    try:
        waits = []
        for _ in range(3):
            (result,) = worker.run_once()
            assert result.state is DeliveryState.PENDING
            waits.append(result.next_attempt_ms - clock.now_ms)
            assert worker.run_once() == []  # not due yet
            clock.now_ms = result.next_attempt_ms
        (done,) = worker.run_once()
    finally:
        worker.close()
    assert waits == [1_000, 2_000, 4_000]
    assert (done.state, done.attempts, done.last_status) == (DeliveryState.DELIVERED, 4, 200)
    with new_uow() as uow:
        (optout,) = uow.optouts.list_since(0)
    identity = base64.b64encode(optout.advertising_id).decode()
    assert {parse_qs(urlsplit(str(c.url)).query)["user"][0] for c in receiver.calls} == {identity}
    assert {c.content for c in receiver.calls} == {b""}
    assert parse_qs(urlsplit(str(receiver.calls[0].url)).query)["ts"] == [str(optout.created_s)]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "retrying" in logged and f"webhook {webhook} opt-out {seq}" in logged
    for secret in (identity, identity.replace("/", "%2F"), "dsp.example.com", "optout?"):
        assert secret not in logged
    (status,) = list_webhooks(new_uow(), site)
    assert (status.counts.delivered, status.counts.pending, status.counts.failed) == (1, 0, 0)


def test_other_statuses_and_too_many_attempts_end_failed_and_show_as_problems(
    engine: Engine, box: SecretBox, new_uow: NewUow, ctx: Context
) -> None:
    site = _dsp(new_uow, ctx)
    create_webhook(CreateWebhook(site, TEMPLATE, "POST"), new_uow(), ctx)
    refused, exhausted = (_optout(new_uow, ctx, f"{n}@example.com") for n in ("a", "b"))
    receiver, clock = Receiver([404, 500, 500, 500, 500]), Clock()
    worker = _worker(engine, box, receiver, clock, concurrency=1)
    try:
        for _ in range(5):
            worker.run_once()
            clock.now_ms += 10_000
    finally:
        worker.close()
    assert {c.method for c in receiver.calls} == {"POST"}
    with new_uow() as uow:
        first, second = uow.webhook_deliveries.list_all()
    assert (first.optout_seq, first.state, first.attempts, first.last_status) == (
        refused,
        DeliveryState.FAILED,
        1,
        404,
    )
    assert (second.optout_seq, second.state, second.attempts, second.last_error) == (
        exhausted,
        DeliveryState.FAILED,
        4,
        "HTTP 500; gave up",
    )
    problems = recent_problems(new_uow(), site)
    assert [p.optout_seq for p in problems] == [exhausted, refused]


def test_a_claim_is_leased_so_a_second_worker_skips_it(
    engine: Engine, box: SecretBox, new_uow: NewUow, ctx: Context
) -> None:
    site = _dsp(new_uow, ctx)
    create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx)
    for n in range(3):
        _optout(new_uow, ctx, f"lease{n}@example.com")
    now = ctx.now_ms
    with new_uow() as uow:
        first = uow.webhook_deliveries.claim_due(now, 2, now + 60_000)
        uow.commit()
    with new_uow() as uow:
        second = uow.webhook_deliveries.claim_due(now, 10, now + 60_000)
        uow.commit()
    assert len(first) == 2 and len(second) == 1
    assert {d.optout_seq for d in first}.isdisjoint({d.optout_seq for d in second})
    with new_uow() as uow:  # a worker that died: the rows come back when the lease runs out
        assert uow.webhook_deliveries.claim_due(now + 59_999, 10, now + 120_000) == []
        assert len(uow.webhook_deliveries.claim_due(now + 60_000, 10, now + 120_000)) == 3


def test_disabling_fails_the_backlog_and_the_worker_leaves_it(
    engine: Engine, box: SecretBox, new_uow: NewUow, ctx: Context
) -> None:
    site = _dsp(new_uow, ctx)
    webhook = create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx).webhook_id
    _optout(new_uow, ctx, "pending@example.com")
    disable_webhook(DisableWebhook(webhook), new_uow(), ctx)
    receiver = Receiver([])
    worker = _worker(engine, box, receiver, Clock())
    try:
        assert worker.run_once() == []
    finally:
        worker.close()
    assert receiver.calls == []
    (status,) = list_webhooks(new_uow(), site)
    assert (status.counts.pending, status.counts.failed) == (0, 1)
    (problem,) = recent_problems(new_uow(), site)
    assert (problem.last_error, problem.attempts) == ("webhook disabled", 0)


def test_an_unusable_store_does_not_stop_the_worker(
    box: SecretBox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(sqlite_url(tmp_path / "empty.db"))
    worker = WebhookWorker(engine, box, WorkerSettings(poll_interval_s=0.01))
    stop = threading.Event()
    stopper = threading.Timer(0.2, stop.set)
    stopper.start()
    try:
        worker.run(stop)  # no tables: every claim fails, the loop keeps going until stopped
    finally:
        worker.close()
        engine.dispose()
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "uid2.webhooks"]
    assert "cannot claim deliveries (OperationalError)" in logged  # once, not once per poll


def test_an_outcome_the_store_refused_is_saved_on_the_next_try(
    engine: Engine,
    box: SecretBox,
    new_uow: NewUow,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = _dsp(new_uow, ctx)
    create_webhook(CreateWebhook(site, TEMPLATE), new_uow(), ctx)
    _optout(new_uow, ctx, "buffered@example.com")
    real_record = SqlAlchemyWebhookDeliveryRepository.record
    failures = [StoreError(StoreErrorCode.UNAVAILABLE, "the database is busy or unreachable")]

    def flaky(self: SqlAlchemyWebhookDeliveryRepository, outcomes: list[object]) -> None:
        if failures:
            raise failures.pop()
        real_record(self, outcomes)  # type: ignore[arg-type]

    monkeypatch.setattr(SqlAlchemyWebhookDeliveryRepository, "record", flaky)
    receiver = Receiver([])
    worker = _worker(engine, box, receiver, Clock())
    try:
        assert worker.run_once() == []  # sent, but not saved: the row stays leased
        assert _deliveries(new_uow)[0][2] is DeliveryState.PENDING
        (saved,) = worker.run_once()  # nothing is due; the buffered outcome is saved
    finally:
        worker.close()
    assert saved.state is DeliveryState.DELIVERED and len(receiver.calls) == 1
    assert _deliveries(new_uow)[0][2] is DeliveryState.DELIVERED
