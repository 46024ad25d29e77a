"""The receiver's key age (``uid2_pixel_key_refresh_age_seconds`` and its part of ``/healthz``),
on a clock the test moves, and the setting that bounds it."""

from __future__ import annotations

import pytest

from uid2.pixel.key_age import KeyAge
from uid2.pixel.settings import PixelSettings, SettingsError

REQUIRED = {
    "UID2_PIXEL_OPERATOR_URL": "http://127.0.0.1:8080",
    "UID2_PIXEL_API_KEY": "key",
    "UID2_PIXEL_SECRET": "secret",
    "UID2_PIXEL_DATABASE_URL": "sqlite:///x.db",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Keys:
    """Stands in for ``SharingClient.keys``: a new object after each successful refresh."""

    def __init__(self) -> None:
        self.current: object | None = None

    def refresh(self) -> None:
        self.current = object()


def test_the_age_grows_until_new_keys_are_seen_and_then_starts_again() -> None:
    clock, keys = Clock(), Keys()
    age = KeyAge(lambda: keys.current, limit_seconds=60, clock=clock)
    keys.refresh()
    clock.now += 5
    assert age.seconds() == 0  # first seen now (reads never overstate the age)
    clock.now += 7
    assert age.seconds() == 7
    clock.now += 3
    assert age.seconds() == 10
    keys.refresh()
    clock.now += 2
    assert age.seconds() == 0


def test_the_same_keyring_does_not_reset_the_age_and_a_decryption_can_report_a_new_one() -> None:
    clock, keys = Clock(), Keys()
    age = KeyAge(lambda: keys.current, limit_seconds=60, clock=clock)
    keys.refresh()
    first = keys.current
    age.saw(first)
    clock.now += 30
    age.saw(first)
    age.saw(None)  # a client without keys says nothing about their age
    assert age.seconds() == 30
    keys.refresh()
    clock.now += 4
    age.saw(keys.current)  # the pixel path saw the new keys before any scrape did
    clock.now += 1
    assert age.seconds() == 1


def test_keys_older_than_the_limit_are_a_problem_that_names_the_age_and_the_limit() -> None:
    clock, keys = Clock(), Keys()
    age = KeyAge(lambda: keys.current, limit_seconds=90, clock=clock)
    keys.refresh()
    assert age.problem() is None
    clock.now += 90
    assert age.problem() is None  # at the limit is still fine
    clock.now += 31
    assert age.problem() == "sharing keys last refreshed 121 s ago (limit 90 s)"
    keys.refresh()
    assert age.problem() is None


def test_a_receiver_that_never_got_keys_counts_from_its_start() -> None:
    clock, keys = Clock(), Keys()
    age = KeyAge(lambda: keys.current, limit_seconds=90, clock=clock)
    clock.now += 45
    assert (age.seconds(), age.problem()) == (45, None)
    clock.now += 55
    assert age.problem() == "no sharing keys yet, 100 s after start (limit 90 s)"


def test_a_limit_of_zero_never_reports_a_problem() -> None:
    clock = Clock()
    age = KeyAge(lambda: None, limit_seconds=0, clock=clock)
    clock.now += 1e6
    assert age.seconds() == 1e6 and age.problem() is None


def test_the_limit_defaults_to_three_refresh_intervals_and_can_be_set() -> None:
    assert PixelSettings.from_env(REQUIRED).key_age_limit_seconds == 900.0
    slower = PixelSettings.from_env({**REQUIRED, "UID2_PIXEL_KEY_REFRESH_SECONDS": "3600"})
    assert slower.key_age_limit_seconds == 10_800.0
    fixed = {**REQUIRED, "UID2_PIXEL_KEY_MAX_AGE_SECONDS": " 120 "}
    assert PixelSettings.from_env(fixed).key_age_limit_seconds == 120.0
    off = {**REQUIRED, "UID2_PIXEL_KEY_MAX_AGE_SECONDS": "0"}
    assert PixelSettings.from_env(off).key_age_limit_seconds == 0.0
    for bad, message in [("-1", "must not be negative"), ("soon", "must be a number")]:
        with pytest.raises(SettingsError, match=message):
            PixelSettings.from_env({**REQUIRED, "UID2_PIXEL_KEY_MAX_AGE_SECONDS": bad})
