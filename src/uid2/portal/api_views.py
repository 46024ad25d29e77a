"""JSON shapes of the portal API (beside :mod:`uid2.admin.views`, which the CLI shares).

No view includes a stored secret; the created-key views carry what is shown once.
"""

from __future__ import annotations

import json

from uid2.admin.accounts import TeamMember
from uid2.admin.reports import OptOutLookup, SaltAges
from uid2.admin.sharing import SharingOverview
from uid2.portal.account_service import Session
from uid2.store.records import AuditEntry, CstgKeypair, PortalUser

View = dict[str, object]


def user_view(user: PortalUser) -> View:
    return {
        "user_id": user.user_id,
        "email": user.email,
        "platform_admin": user.platform_admin,
        "pending": user.pending,
        "disabled": user.disabled,
    }


def session_view(session: Session) -> View:
    return {
        "user": user_view(session.principal.user),
        "memberships": [
            {"site_id": site_id, "role": role.value}
            for site_id, role in sorted(session.principal.roles.items())
        ],
        "csrf_token": session.csrf_token,
        "expires_ms": session.expires_ms,
    }


def keypair_view(pair: CstgKeypair) -> View:
    return {
        "subscription_id": pair.subscription_id,
        "site_id": pair.site_id,
        "name": pair.name,
        "public_key": pair.public_key,
        "created": pair.created_s,
        "disabled": pair.disabled,
    }


def member_view(member: TeamMember) -> View:
    return {**user_view(member.user), "role": member.role.value}


def audit_view(entry: AuditEntry) -> View:
    return {
        "seq": entry.seq,
        "at_ms": entry.at_ms,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "site_id": entry.site_id,
        "details": json.loads(entry.details),
    }


def overview_view(overview: SharingOverview) -> View:
    keyset, readers = overview.keyset, overview.readers
    return {
        "has_keyset": keyset is not None,
        "allowed_sites": None
        if keyset is None or keyset.allowed_sites is None
        else sorted(keyset.allowed_sites),
        "allowed_types": [] if keyset is None else sorted(t.value for t in keyset.allowed_types),
        "readers": None if readers is None else sorted(readers),
        "recommended_types": sorted(t.value for t in overview.recommended_types),
    }


def salt_ages_view(ages: SaltAges) -> View:
    return {
        "bucket_count": ages.bucket_count,
        "bands": [{"age": label, "buckets": count} for label, count in ages.bands],
        "newest_ms": ages.newest_ms,
        "oldest_ms": ages.oldest_ms,
    }


def optout_view(lookup: OptOutLookup) -> View:
    return {"opted_out": lookup.opted_out, "since": lookup.since_s}
