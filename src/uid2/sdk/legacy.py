"""The legacy ``Uid2Client`` and its factories (sdk.md §1.2, §3.6), kept for code written
against older SDK versions. New code should use ``BidstreamClient`` or ``SharingClient``.
"""

from __future__ import annotations

import time

import httpx

from uid2.core.enums import ClientType, DecryptionStatus, IdentityScope
from uid2.core.keys import Keyring
from uid2.core.tokens import decrypt_token, encrypt_raw_uid
from uid2.sdk._nonces import nonce_pair
from uid2.sdk.errors import EncryptionError, Uid2Error
from uid2.sdk.http import HttpSettings, OperatorSession
from uid2.sdk.keyring_holder import KeyringHolder
from uid2.sdk.results import DecryptedToken


class Uid2Client:
    """Build with :class:`Uid2ClientFactory` or :class:`EuidClientFactory`."""

    def __init__(
        self,
        base_url: str,
        auth_key: str,
        secret_key: str,
        *,
        identity_scope: IdentityScope | None = None,
        http_settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._identity_scope = identity_scope
        self._session = OperatorSession(
            base_url, auth_key, secret_key, settings=http_settings, transport=transport
        )
        self._holder = KeyringHolder(lambda: self._session.post_envelope("/v2/key/sharing", None))

    @classmethod
    def create_uid2(cls, base_url: str, auth_key: str, secret_key: str) -> Uid2Client:
        return cls(base_url, auth_key, secret_key, identity_scope=IdentityScope.UID2)

    @classmethod
    def create_euid(cls, base_url: str, auth_key: str, secret_key: str) -> Uid2Client:
        return cls(base_url, auth_key, secret_key, identity_scope=IdentityScope.EUID)

    def refresh_keys(self) -> Keyring:
        """Fetch keys from ``/v2/key/sharing``; raises :class:`Uid2Error` on failure."""
        return self._keys_or_raise(self._holder.refresh().reason)

    def refresh_json(self, json_str: str | bytes) -> Keyring:
        return self._keys_or_raise(self._holder.load(json_str).reason)

    def _keys_or_raise(self, reason: str | None) -> Keyring:
        if reason is not None or self._holder.keyring is None:
            raise Uid2Error(f"key refresh failed: {reason}")
        return self._holder.keyring

    def encrypt(self, uid2: str, keyset_id: int | None = None) -> str:
        nonces = nonce_pair()
        result = encrypt_raw_uid(
            uid2,
            self._holder.keyring,
            now_ms=time.time_ns() // 1_000_000,
            master_nonce=nonces[:12],
            site_nonce=nonces[12:],
            keyset_id=keyset_id,
            identity_scope=self._identity_scope,
        )
        if result.token is None:
            raise EncryptionError(result.status.value)
        return result.token

    def decrypt(self, token: str) -> DecryptedToken:
        """Decrypt without lifetime checks; raises :class:`EncryptionError` on failure."""
        result = decrypt_token(
            token,
            self._holder.keyring,
            now_ms=time.time_ns() // 1_000_000,
            client_type=ClientType.LEGACY_WITHOUT_DOMAIN_CHECK,
        )
        if result.status is not DecryptionStatus.SUCCESS:
            raise EncryptionError(result.status.value)
        return DecryptedToken(result)

    def close(self) -> None:
        self._session.close()


class Uid2ClientFactory:
    @staticmethod
    def create(base_url: str, auth_key: str, secret_key: str) -> Uid2Client:
        return Uid2Client.create_uid2(base_url, auth_key, secret_key)


class EuidClientFactory:
    @staticmethod
    def create(base_url: str, auth_key: str, secret_key: str) -> Uid2Client:
        return Uid2Client.create_euid(base_url, auth_key, secret_key)
