"""Result objects with the names and attributes of the official SDK (sdk.md §1.3)."""

from __future__ import annotations

from datetime import UTC, datetime

from uid2.core.enums import (
    AdvertisingTokenVersion,
    DecryptionStatus,
    EncryptionStatus,
    IdentityScope,
    IdentityType,
)
from uid2.core.keys import Keyring
from uid2.core.tokens import DecryptResult, EncryptResult


def _datetime(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


class DecryptedToken:
    """What decrypting a token gives (the docs call it a "DecryptionResponse").

    ``uid`` is the raw UID2 as standard base64; ``established`` and ``expiry`` are aware UTC
    datetimes, made only when read (a bid loop that only needs ``uid`` never pays for them);
    ``identity_scope`` and ``identity_type`` come from the token itself.
    """

    __slots__ = ("_result",)

    def __init__(self, result: DecryptResult) -> None:
        self._result = result

    @staticmethod
    def make_error(status: DecryptionStatus) -> DecryptedToken:
        return DecryptedToken(DecryptResult(status))

    @property
    def result(self) -> DecryptResult:
        """The core result underneath, with times as epoch milliseconds (not in the official
        SDK; services that store times use it instead of building datetimes)."""
        return self._result

    @property
    def status(self) -> DecryptionStatus:
        return self._result.status

    @property
    def success(self) -> bool:
        return self._result.status is DecryptionStatus.SUCCESS

    @property
    def uid(self) -> str | None:
        return self._result.uid

    @property
    def uid2(self) -> str | None:
        return self._result.uid

    @property
    def established(self) -> datetime | None:
        return _datetime(self._result.established_ms)

    @property
    def expiry(self) -> datetime | None:
        return _datetime(self._result.expiry_ms)

    @property
    def generated(self) -> datetime | None:
        """When the token was made (v3/v4; None for v2). Not in the official SDK."""
        return _datetime(self._result.generated_ms)

    @property
    def site_id(self) -> int | None:
        return self._result.site_id

    @property
    def site_key_site_id(self) -> int | None:
        return self._result.site_key_site_id

    @property
    def identity_scope(self) -> IdentityScope | None:
        return self._result.identity_scope

    @property
    def identity_type(self) -> IdentityType | None:
        return self._result.identity_type

    @property
    def advertising_token_version(self) -> AdvertisingTokenVersion | None:
        return self._result.advertising_token_version

    @property
    def is_client_side_generated(self) -> bool | None:
        return self._result.is_client_side_generated

    def __repr__(self) -> str:  # never shows the raw UID
        return f"DecryptedToken(status={self.status.name}, site_id={self.site_id})"


class EncryptionDataResponse(EncryptResult):
    """The result of encrypting a raw UID2: ``status``, ``encrypted_data`` and ``success``.

    A subclass of the core's ``(status, token)`` tuple, so wrapping a core result is free.
    """

    __slots__ = ()

    @staticmethod
    def make_success(encrypted_data: str) -> EncryptionDataResponse:
        return EncryptionDataResponse(EncryptionStatus.SUCCESS, encrypted_data)

    @staticmethod
    def make_error(encryption_status: EncryptionStatus) -> EncryptionDataResponse:
        return EncryptionDataResponse(encryption_status, None)

    @classmethod
    def from_core(cls, result: EncryptResult) -> EncryptionDataResponse:
        return _new_tuple(cls, result)

    @property
    def encrypted_data(self) -> str | None:
        return self.token

    def __repr__(self) -> str:  # never shows the token
        return f"EncryptionDataResponse(status={self.status.name})"


_new_tuple = tuple.__new__


class RefreshResponse:
    """Outcome of a key refresh. ``reason`` is a message (the official SDK gives exc.args)."""

    __slots__ = ("success", "reason", "keys")

    def __init__(self, success: bool, reason: str | None, keys: Keyring | None) -> None:
        self.success = success
        self.reason = reason
        self.keys = keys

    @staticmethod
    def make_success(keys: Keyring) -> RefreshResponse:
        return RefreshResponse(True, None, keys)

    @staticmethod
    def make_error(reason: str) -> RefreshResponse:
        return RefreshResponse(False, reason, None)

    def __repr__(self) -> str:
        return f"RefreshResponse(success={self.success}, reason={self.reason!r})"
