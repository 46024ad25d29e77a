"""Opt-outs: the sweeper asks about the raw UID2s stored since its last pass, purges the events
of those that opted out, and later events of them are stored without the identifier."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

from pixel_receiver_world import (
    OTHER_RAW_UID,
    RAW_UID,
    KeyServer,
    OptOutLookup,
    TestClient,
    assert_gif,
    build_receiver,
    encrypt,
    metric,
    running,
)

from uid2.pixel.optout_sweep import OptOutSweeper
from uid2.pixel.store import SWEPT_SEQ, EventStore

OPTED_OUT_SINCE_MS = 1_767_225_600_000


def sweeper(store: EventStore, lookup: OptOutLookup, purged: list[int]) -> OptOutSweeper:
    return OptOutSweeper(
        store, lookup, interval_s=0, full_interval_s=0, on_purged=purged.append
    )  # fmt: skip


def fire(http: TestClient, uid: str, ev: str = "purchase") -> None:
    assert_gif(http.get(f"/px/tracking?{urlencode({'uid2_token': encrypt(uid), 'ev': ev})}"))


def test_a_sweep_purges_an_opted_out_uid_and_keeps_it_out(
    http: TestClient, store: EventStore, lookup: OptOutLookup
) -> None:
    fire(http, RAW_UID)
    fire(http, RAW_UID, "visit")
    fire(http, OTHER_RAW_UID)
    assert store.segment("purchase") == sorted([RAW_UID, OTHER_RAW_UID])
    sweep = sweeper(store, lookup, [])

    assert sweep.sweep_new() == 0  # nobody opted out yet
    assert lookup.asked == [[RAW_UID, OTHER_RAW_UID]]  # each raw UID2 asked about once
    assert store.get_meta(SWEPT_SEQ) == "3"

    lookup.opted_out[RAW_UID] = OPTED_OUT_SINCE_MS
    assert sweep.sweep_new() == 0  # already checked: only the full sweep sees a later opt-out
    assert lookup.asked[-1:] == [[RAW_UID, OTHER_RAW_UID]] and len(lookup.asked) == 1
    assert sweep.sweep_all() == 2
    rows = [r.event for r in store.events()]
    assert [(e.status, e.raw_uid2) for e in rows] == [
        ("OPTED_OUT", None),
        ("OPTED_OUT", None),
        ("SUCCESS", OTHER_RAW_UID),
    ]
    assert rows[0].sender_site_id == rows[2].sender_site_id  # the rest of the event stays
    assert store.segment("purchase") == [OTHER_RAW_UID]
    assert store.segment("visit") == []

    fire(http, RAW_UID)  # later events of an opted-out raw UID2 are stored without it
    fire(http, OTHER_RAW_UID)
    latest = [r.event for r in store.events()][-2:]
    assert [(e.status, e.raw_uid2) for e in latest] == [
        ("OPTED_OUT", None),
        ("SUCCESS", OTHER_RAW_UID),
    ]
    assert store.segment("purchase") == [OTHER_RAW_UID]
    assert sweep.sweep_new() == 0  # the new OTHER event is checked, RAW_UID is not there
    assert lookup.asked[-1] == [OTHER_RAW_UID]
    assert RAW_UID not in {u for r in store.events() for u in [r.event.raw_uid2] if u}


def test_new_events_are_checked_once_and_a_purge_is_counted(
    http: TestClient, store: EventStore, lookup: OptOutLookup
) -> None:
    lookup.opted_out[RAW_UID] = OPTED_OUT_SINCE_MS
    purged: list[int] = []
    sweep = sweeper(store, lookup, purged)
    fire(http, RAW_UID)
    fire(http, OTHER_RAW_UID)
    assert sweep.sweep_new() == 1
    assert sweep.sweep_new() == 0 and len(lookup.asked) == 1  # nothing new: no lookup
    fire(http, RAW_UID)  # known opted out: stored without the raw UID2
    assert sweep.sweep_new() == 0 and len(lookup.asked) == 1
    assert [r.event.status for r in store.events()] == ["OPTED_OUT", "SUCCESS", "OPTED_OUT"]
    assert store.segment("purchase") == [OTHER_RAW_UID]


def test_the_background_sweeper_purges_and_counts(db_url: str, store: EventStore) -> None:
    lookup = OptOutLookup()
    lookup.opted_out[RAW_UID] = OPTED_OUT_SINCE_MS
    app = build_receiver(db_url, KeyServer(), lookup, optout_sweep_seconds=0.05)
    try:
        with running(app) as http:
            fire(http, RAW_UID)

            def purged() -> bool:  # stored, then counted
                statuses = [(r.event.status, r.event.raw_uid2) for r in store.events()]
                counted = metric(http, "uid2_pixel_optout_purged_events_total")
                return statuses == [("OPTED_OUT", None)] and counted == 1

            deadline = time.monotonic() + 10
            while not purged() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert purged()
    finally:
        app._engine.dispose()


def test_a_failing_lookup_is_retried_at_the_next_pass(db_url: str, store: EventStore) -> None:
    calls = threading.Semaphore(0)

    class Flaky(OptOutLookup):
        def __call__(self, uids: list[str]) -> dict[str, int]:
            calls.release()
            if len(self.asked) == 0:
                self.asked.append(uids)
                raise ConnectionError("operator down")
            return super().__call__(uids)

    lookup = Flaky()
    lookup.opted_out[RAW_UID] = OPTED_OUT_SINCE_MS
    app = build_receiver(db_url, KeyServer(), lookup, optout_sweep_seconds=0.05)
    try:
        with running(app) as http:
            fire(http, RAW_UID)
            assert calls.acquire(timeout=10) and calls.acquire(timeout=10)
            deadline = time.monotonic() + 10
            while store.segment("purchase") and time.monotonic() < deadline:
                time.sleep(0.02)
            assert store.segment("purchase") == []
    finally:
        app._engine.dispose()
