"""What a participant's team does in the portal: API keys, client-side keys, domains and app
ids, sharing, team and audit trail. Every change is an :mod:`uid2.admin` use case; this layer
adds who may do it (portal-and-sharing §2.2) and which records belong to the participant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import uid2.admin.accounts as accounts
from uid2.admin.apikeys import (
    CreateApiKey,
    CreatedApiKey,
    DisableApiKey,
    UpdateApiKey,
    create_api_key,
    disable_api_key,
    list_api_keys,
    update_api_key,
)
from uid2.admin.cstg import (
    CreateCstgKeypair,
    CreatedCstgKeypair,
    DisableCstgKeypair,
    create_cstg_keypair,
    disable_cstg_keypair,
    list_cstg_keypairs,
)
from uid2.admin.lookups import require_site
from uid2.admin.participants import SetAppNames, SetDomainNames, set_app_names, set_domain_names
from uid2.admin.reports import audit_trail
from uid2.admin.sharing import SharingOverview, SharingResult, UpdateSharing, sharing_overview
from uid2.admin.sharing import update_sharing as admin_update_sharing
from uid2.admin.validation import roles_allowed_for
from uid2.portal.errors import PortalError, bad_field, not_found
from uid2.portal.runtime import Principal, Runtime, mapped_errors
from uid2.portal.webhook_service import WebhookService
from uid2.store.records import (
    ApiKey,
    AuditEntry,
    CstgKeypair,
    MemberRole,
    ParticipantType,
    Role,
    Site,
    TokenPurpose,
)


@dataclass(frozen=True, slots=True)
class SharingPage:
    site: Site
    overview: SharingOverview
    others: tuple[Site, ...]  # every other enabled participant, by name


class ParticipantService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self.webhooks = WebhookService(runtime)  # opt-out webhooks and their delivery status

    # --- participants ---------------------------------------------------------------------

    def sites_for(self, principal: Principal) -> list[Site]:
        with mapped_errors(), self._rt.reader() as uow:
            sites = uow.sites.list_all()
        if principal.is_platform_admin:
            return sites
        return [s for s in sites if s.site_id in principal.roles]

    def site(self, principal: Principal, site_id: int) -> Site:
        principal.require_member(site_id)
        with mapped_errors(), self._rt.reader() as uow:
            return require_site(uow, site_id)

    # --- API keys -------------------------------------------------------------------------

    def allowed_roles(self, site: Site) -> frozenset[Role]:
        return roles_allowed_for(site.types)

    def api_keys(self, principal: Principal, site_id: int) -> list[ApiKey]:
        principal.require_member(site_id)
        with mapped_errors():
            keys = list_api_keys(self._rt.reader(), site_id)
        return sorted(keys, key=lambda k: (k.disabled, -k.created_s, k.name))

    def _check_roles(self, site: Site, roles: frozenset[Role]) -> frozenset[Role]:
        if not roles:
            raise bad_field("roles", "choose at least one permission")
        refused = roles - self.allowed_roles(site)
        if refused:
            names = ", ".join(sorted(r.value for r in refused))
            raise bad_field("roles", f"not allowed for this participant's types: {names}")
        return roles

    def create_api_key(
        self, principal: Principal, site_id: int, name: str, roles: frozenset[Role]
    ) -> CreatedApiKey:
        site = self.site(principal, site_id)
        cmd = CreateApiKey(site_id, self._check_roles(site, roles), name)
        with mapped_errors():
            return create_api_key(cmd, self._rt.uow(), self._rt.context(principal.actor))

    def _own_key(self, principal: Principal, site_id: int, key_id: str) -> ApiKey:
        for key in self.api_keys(principal, site_id):
            if key.key_id == key_id:
                return key
        raise not_found("unknown API key")

    def update_api_key(
        self,
        principal: Principal,
        site_id: int,
        key_id: str,
        *,
        name: str | None = None,
        roles: frozenset[Role] | None = None,
    ) -> ApiKey:
        self._own_key(principal, site_id, key_id)
        if roles is not None:
            roles = self._check_roles(self.site(principal, site_id), roles)
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return update_api_key(UpdateApiKey(key_id, name, roles), self._rt.uow(), ctx)

    def disable_api_key(self, principal: Principal, site_id: int, key_id: str) -> ApiKey:
        self._own_key(principal, site_id, key_id)
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return disable_api_key(DisableApiKey(key_id), self._rt.uow(), ctx)

    # --- client-side integration ----------------------------------------------------------

    def keypairs(self, principal: Principal, site_id: int) -> list[CstgKeypair]:
        principal.require_member(site_id)
        with mapped_errors():
            return list_cstg_keypairs(self._rt.reader(), site_id)

    def create_keypair(
        self, principal: Principal, site_id: int, name: str | None
    ) -> CreatedCstgKeypair:
        self.site(principal, site_id)
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return create_cstg_keypair(CreateCstgKeypair(site_id, name), self._rt.uow(), ctx)

    def disable_keypair(self, principal: Principal, site_id: int, subscription_id: str) -> None:
        if not any(p.subscription_id == subscription_id for p in self.keypairs(principal, site_id)):
            raise not_found("unknown client-side key")
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            disable_cstg_keypair(DisableCstgKeypair(subscription_id), self._rt.uow(), ctx)

    def set_domains(self, principal: Principal, site_id: int, names: Iterable[str]) -> Site:
        self.site(principal, site_id)
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return set_domain_names(SetDomainNames(site_id, tuple(names)), self._rt.uow(), ctx)

    def set_app_names(self, principal: Principal, site_id: int, names: Iterable[str]) -> Site:
        self.site(principal, site_id)
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return set_app_names(SetAppNames(site_id, tuple(names)), self._rt.uow(), ctx)

    # --- sharing --------------------------------------------------------------------------

    def sharing(self, principal: Principal, site_id: int) -> SharingPage:
        site = self.site(principal, site_id)
        with mapped_errors():
            overview = sharing_overview(self._rt.reader(), site_id)
            with self._rt.reader() as uow:
                everyone = uow.sites.list_all()
        others = tuple(
            sorted(
                (s for s in everyone if s.site_id != site_id and s.enabled),
                key=lambda s: s.name.lower(),
            )
        )
        return SharingPage(site, overview, others)

    def update_sharing(
        self,
        principal: Principal,
        site_id: int,
        *,
        add_sites: frozenset[int] = frozenset(),
        remove_sites: frozenset[int] = frozenset(),
        types: frozenset[ParticipantType] | None = None,
    ) -> SharingResult:
        self.site(principal, site_id)
        cmd = UpdateSharing(site_id, add_sites, remove_sites, types)
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return admin_update_sharing(cmd, self._rt.uow(), ctx)

    # --- team and audit -------------------------------------------------------------------

    def team(self, principal: Principal, site_id: int) -> list[accounts.TeamMember]:
        principal.require_member(site_id)
        with mapped_errors():
            return accounts.list_team(self._rt.reader(), site_id)

    def invite(
        self, principal: Principal, site_id: int, email: str, role: MemberRole
    ) -> accounts.Invitation:
        principal.require_site_admin(site_id)
        cmd = accounts.InviteMember(site_id, email, role)
        with mapped_errors():
            return accounts.invite_member(cmd, self._rt.uow(), self._rt.context(principal.actor))

    def _member(self, principal: Principal, site_id: int, user_id: int) -> accounts.TeamMember:
        principal.require_site_admin(site_id)
        for member in self.team(principal, site_id):
            if member.user.user_id == user_id:
                return member
        raise not_found("unknown team member")

    def resend_invite(self, principal: Principal, site_id: int, user_id: int) -> str:
        member = self._member(principal, site_id, user_id)
        if not member.user.pending:
            raise PortalError(409, "this user has already set a password")
        cmd = accounts.IssuePasswordLink(user_id, TokenPurpose.INVITE)
        with mapped_errors():
            ctx = self._rt.context(principal.actor)
            return accounts.issue_password_link(cmd, self._rt.uow(), ctx)

    def change_role(
        self, principal: Principal, site_id: int, user_id: int, role: MemberRole
    ) -> None:
        self._member(principal, site_id, user_id)
        cmd = accounts.ChangeMemberRole(site_id, user_id, role, principal.user.user_id)
        with mapped_errors():
            accounts.change_member_role(cmd, self._rt.uow(), self._rt.context(principal.actor))

    def remove_member(self, principal: Principal, site_id: int, user_id: int) -> None:
        self._member(principal, site_id, user_id)
        cmd = accounts.RemoveMember(site_id, user_id, principal.user.user_id)
        with mapped_errors():
            accounts.remove_member(cmd, self._rt.uow(), self._rt.context(principal.actor))

    def audit(
        self, principal: Principal, site_id: int, before_seq: int | None = None
    ) -> list[AuditEntry]:
        principal.require_site_admin(site_id)
        with mapped_errors():
            return audit_trail(self._rt.reader(), site_id=site_id, before_seq=before_seq)
