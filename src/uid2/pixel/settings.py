"""Pixel receiver settings, read from ``UID2_PIXEL_*`` (only here and in :mod:`.app`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PixelSettings:
        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise SettingsError(f"{name} is required")
            return value

        def seconds(name: str, default: float) -> float:
            value = environ.get(name, "").strip()
            if not value:
                return default
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
        )
