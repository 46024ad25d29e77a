"""Pixel receiver settings, read from ``UID2_PIXEL_*`` (only here and in :mod:`.app`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

KEY_AGE_INTERVALS = 3


class SettingsError(ValueError):
    """A ``UID2_PIXEL_*`` variable is missing or holds a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class PixelSettings:
    operator_url: str
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    database_url: str
    # seconds a request waits for its event's commit before it is answered anyway
    commit_wait_seconds: float = 2.0
    # seconds between opt-out checks of newly stored raw UID2s (0: never)
    optout_sweep_seconds: float = 5.0
    # seconds between full re-checks of every stored raw UID2 (opt-outs after the first check)
    optout_full_sweep_seconds: float = 3600.0
    # least seconds between two key refreshes caused by a token under an unknown key: a new
    # sharing grant then shows at the first pixel after the operator has it
    key_refresh_min_seconds: float = 1.0
    # seconds between background key refreshes: a revoked grant stops working within this
    key_refresh_seconds: float = 300.0
    # /healthz answers 503 once the sharing keys are older than this (0: never); None means
    # KEY_AGE_INTERVALS background refreshes, so one or two failed refreshes are tolerated
    key_max_age_seconds: float | None = None

    @property
    def key_age_limit_seconds(self) -> float:
        if self.key_max_age_seconds is not None:
            return self.key_max_age_seconds
        return KEY_AGE_INTERVALS * self.key_refresh_seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PixelSettings:
        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise SettingsError(f"{name} is required")
            return value

        def seconds(name: str, default: float) -> float:
            value = optional_seconds(name)
            return default if value is None else value

        def optional_seconds(name: str) -> float | None:
            value = environ.get(name, "").strip()
            if not value:
                return None
            try:
                number = float(value)
            except ValueError:
                raise SettingsError(f"{name} must be a number of seconds") from None
            if number < 0:
                raise SettingsError(f"{name} must not be negative")
            return number

        return cls(
            operator_url=required("UID2_PIXEL_OPERATOR_URL"),
            api_key=required("UID2_PIXEL_API_KEY"),
            secret=required("UID2_PIXEL_SECRET"),
            database_url=required("UID2_PIXEL_DATABASE_URL"),
            commit_wait_seconds=seconds("UID2_PIXEL_COMMIT_WAIT_SECONDS", 2.0),
            optout_sweep_seconds=seconds("UID2_PIXEL_OPTOUT_SWEEP_SECONDS", 5.0),
            optout_full_sweep_seconds=seconds("UID2_PIXEL_OPTOUT_FULL_SWEEP_SECONDS", 3600.0),
            key_refresh_min_seconds=seconds("UID2_PIXEL_KEY_REFRESH_MIN_SECONDS", 1.0),
            key_refresh_seconds=seconds("UID2_PIXEL_KEY_REFRESH_SECONDS", 300.0),
            key_max_age_seconds=optional_seconds("UID2_PIXEL_KEY_MAX_AGE_SECONDS"),
        )
