"""Properties of the key-rotation plan, whatever the keys and the time."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from uid2.admin import RotationPolicy
from uid2.admin.keys import KeyPlan, active_key_at, plan_rotation
from uid2.store.records import KeysetKey

POLICY = RotationPolicy()
DAY_S = 86_400


@st.composite
def keysets(draw: st.DrawFn) -> tuple[list[KeysetKey], int]:
    now = draw(st.integers(min_value=400 * DAY_S, max_value=800 * DAY_S))
    keys = []
    for key_id in range(1, draw(st.integers(min_value=0, max_value=5)) + 1):
        activates = draw(st.integers(min_value=now - 300 * DAY_S, max_value=now + DAY_S))
        lifetime = draw(st.integers(min_value=1, max_value=120 * DAY_S))
        keys.append(KeysetKey(key_id, 1, b"k" * 32, activates, activates, activates + lifetime))
    return keys, now


@given(keysets(), st.booleans())
def test_a_planned_key_never_leaves_a_gap_or_strands_a_token(
    keyset: tuple[list[KeysetKey], int], force: bool
) -> None:
    keys, now = keyset
    plan = plan_rotation(keys, now, POLICY, force)
    if plan is None:  # only a keyset with something usable may wait
        assert active_key_at(keys, now) is not None or any(k.activates_s > now for k in keys)
        return
    assert now <= plan.activates_s <= now + POLICY.activates_in_s
    assert plan.expires_s >= plan.activates_s + POLICY.longest_token_lifetime_s
    if active_key_at(keys, now) is None:
        assert plan.activates_s == now  # nothing to keep using: activate at once
    superseded = active_key_at(keys, plan.activates_s - 1)
    if superseded is not None and plan.activates_s > now:
        expiry = dict(plan.extend).get(superseded.key_id, superseded.expires_s)
        assert expiry >= plan.activates_s + POLICY.longest_token_lifetime_s


def _after(keys: list[KeysetKey], plan: KeyPlan) -> list[KeysetKey]:
    extended = dict(plan.extend)
    kept = [replace(k, expires_s=extended.get(k.key_id, k.expires_s)) for k in keys]
    new_id = max((k.key_id for k in keys), default=0) + 1
    return [*kept, KeysetKey(new_id, 1, b"n" * 32, 0, plan.activates_s, plan.expires_s)]


@given(keysets(), st.booleans())
def test_after_a_late_rotation_some_key_encrypts_at_every_second_and_outlives_its_tokens(
    keyset: tuple[list[KeysetKey], int], force: bool
) -> None:
    keys, now = keyset
    plan = plan_rotation(keys, now, POLICY, force)
    if plan is None or active_key_at(keys, now) is None:
        return  # nothing active now: the new key activates at once (checked above)
    after = _after(keys, plan)
    # Which key encrypts changes only where a key activates or expires: checking those
    # seconds (and the first) covers every second until the new key takes over.
    edges = {now} | {
        t for k in after for t in (k.activates_s, k.expires_s) if now < t < plan.activates_s
    }
    for second in sorted(edges):
        encrypting = active_key_at(after, second)
        assert encrypting is not None, f"no active key {second - now} s after the rotation"
        assert encrypting.expires_s >= plan.activates_s + POLICY.longest_token_lifetime_s
