"""What platform admins do in the portal: participants, key and salt rotation, opt-out lookup,
users, and the full audit trail. Each call checks the caller is a platform admin first.
"""

from __future__ import annotations

from dataclasses import dataclass

import uid2.admin.accounts as accounts
from uid2.admin.keys import KeyRotationResult, RotateKeys, rotate_keys
from uid2.admin.optouts import OptOutRecorded, RecordOptOut, record_optout
from uid2.admin.participants import (
    CreateParticipant,
    EditParticipant,
    create_participant,
    edit_participant,
)
from uid2.admin.reports import OptOutLookup, SaltAges, audit_trail, lookup_optout, salt_ages
from uid2.admin.salts import RotateSalts, SaltRotationResult, rotate_salts
from uid2.admin.sharing import KeysetListing, list_keysets
from uid2.core.enums import IdentityType
from uid2.portal.runtime import Principal, Runtime, mapped_errors
from uid2.store.records import AuditEntry, ParticipantType, PortalUser, Site, TokenPurpose


@dataclass(frozen=True, slots=True)
class KeysPage:
    keysets: tuple[KeysetListing, ...]
    salts: SaltAges


class PlatformService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def create_participant(
        self, principal: Principal, name: str, types: frozenset[ParticipantType]
    ) -> Site:
        principal.require_platform_admin()
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return create_participant(CreateParticipant(name, types), self._rt.uow(), ctx)

    def edit_participant(self, principal: Principal, cmd: EditParticipant) -> Site:
        principal.require_platform_admin()
        with mapped_errors():
            return edit_participant(cmd, self._rt.uow(), self._rt.context(principal.actor))

    def keys(self, principal: Principal) -> KeysPage:
        principal.require_platform_admin()
        ctx = self._rt.context(principal.actor)
        with mapped_errors():
            keysets = tuple(list_keysets(self._rt.reader(), ctx))
            return KeysPage(keysets, salt_ages(self._rt.reader(), ctx.now_ms))

    def rotate_keys(self, principal: Principal, force: bool) -> KeyRotationResult:
        principal.require_platform_admin()
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return rotate_keys(RotateKeys(force=force), self._rt.uow(), ctx)

    def rotate_salts(
        self, principal: Principal, fraction: float, force: bool
    ) -> SaltRotationResult:
        principal.require_platform_admin()
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return rotate_salts(RotateSalts(fraction, force), self._rt.uow(), ctx)

    def lookup_optout(
        self, principal: Principal, identity_type: IdentityType, value: str
    ) -> OptOutLookup:
        principal.require_platform_admin()
        with mapped_errors():
            return lookup_optout(RecordOptOut(identity_type, value), self._rt.reader())

    def record_optout(
        self, principal: Principal, identity_type: IdentityType, value: str
    ) -> OptOutRecorded:
        principal.require_platform_admin()
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return record_optout(RecordOptOut(identity_type, value), self._rt.uow(), ctx)

    def audit(self, principal: Principal, before_seq: int | None = None) -> list[AuditEntry]:
        principal.require_platform_admin()
        with mapped_errors():
            return audit_trail(self._rt.reader(), before_seq=before_seq)

    def users(self, principal: Principal) -> list[PortalUser]:
        principal.require_platform_admin()
        with mapped_errors():
            return accounts.list_users(self._rt.reader())

    def create_user(self, principal: Principal, email: str, platform_admin: bool) -> str:
        """Creates a user without a password; returns their invite link token."""
        principal.require_platform_admin()
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            cmd = accounts.CreateUser(email, None, platform_admin)
            user = accounts.create_user(cmd, self._rt.uow(), ctx)
            return self.password_link(principal, user.user_id)

    def password_link(self, principal: Principal, user_id: int) -> str:
        """An invite link for a pending user, else a reset link (no mail: shown to the admin)."""
        principal.require_platform_admin()
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            user = accounts.require_user_in(self._rt.reader(), user_id)
            purpose = TokenPurpose.INVITE if user.pending else TokenPurpose.RESET
            cmd = accounts.IssuePasswordLink(user_id, purpose)
            return accounts.issue_password_link(cmd, self._rt.uow(), ctx)

    def set_user_disabled(self, principal: Principal, user_id: int, disabled: bool) -> None:
        principal.require_platform_admin()
        cmd = accounts.SetUserDisabled(user_id, disabled, principal.user.user_id)
        with mapped_errors():
            accounts.set_user_disabled(cmd, self._rt.uow(), self._rt.context(principal.actor))
