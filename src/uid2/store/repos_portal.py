"""Repositories for portal accounts: users, memberships, sessions and one-time links.

Sessions and one-time links are stored by the SHA-256 of their token, so a copy of the
database opens no session and redeems no link.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, delete, insert, select, update

from uid2.store.records import (
    MemberRole,
    Membership,
    OneTimeToken,
    PortalSession,
    PortalUser,
    TokenPurpose,
)
from uid2.store.schema import portal_memberships, portal_sessions, portal_tokens, portal_users


class SqlAlchemyUserRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, user: PortalUser) -> int:
        values = _user_values(user)
        result = self._db.execute(insert(portal_users).values(values))
        (user_id,) = result.inserted_primary_key or (0,)
        return int(user_id)

    def save(self, user: PortalUser) -> None:
        query = update(portal_users).where(portal_users.c.user_id == user.user_id)
        self._db.execute(query.values(_user_values(user)))

    def get(self, user_id: int) -> PortalUser | None:
        row = self._db.execute(
            select(portal_users).where(portal_users.c.user_id == user_id)
        ).first()
        return None if row is None else _to_user(row)

    def get_by_email(self, email: str) -> PortalUser | None:
        row = self._db.execute(select(portal_users).where(portal_users.c.email == email)).first()
        return None if row is None else _to_user(row)

    def list_all(self) -> list[PortalUser]:
        rows = self._db.execute(select(portal_users).order_by(portal_users.c.email))
        return [_to_user(row) for row in rows]

    def count_admins(self) -> int:
        query = select(portal_users.c.user_id).where(portal_users.c.platform_admin.is_(True))
        return len(self._db.scalars(query).all())


def _user_values(user: PortalUser) -> dict[str, object]:
    return {
        "email": user.email,
        "password_hash": user.password_hash,
        "platform_admin": user.platform_admin,
        "disabled": user.disabled,
        "failed_logins": user.failed_logins,
        "locked_until_ms": user.locked_until_ms,
        "created_ms": user.created_ms,
    }


def _to_user(row: Row[tuple[object, ...]]) -> PortalUser:
    return PortalUser(
        user_id=int(row.user_id),
        email=row.email,
        password_hash=row.password_hash,
        platform_admin=bool(row.platform_admin),
        disabled=bool(row.disabled),
        failed_logins=int(row.failed_logins),
        locked_until_ms=int(row.locked_until_ms),
        created_ms=int(row.created_ms),
    )


class SqlAlchemyMembershipRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def set(self, membership: Membership) -> None:
        """Adds the membership or changes its role."""
        self.remove(membership.user_id, membership.site_id)
        self._db.execute(
            insert(portal_memberships).values(
                user_id=membership.user_id,
                site_id=membership.site_id,
                role=membership.role.value,
            )
        )

    def remove(self, user_id: int, site_id: int) -> None:
        self._db.execute(
            delete(portal_memberships).where(
                portal_memberships.c.user_id == user_id, portal_memberships.c.site_id == site_id
            )
        )

    def get(self, user_id: int, site_id: int) -> Membership | None:
        row = self._db.execute(
            select(portal_memberships).where(
                portal_memberships.c.user_id == user_id, portal_memberships.c.site_id == site_id
            )
        ).first()
        return None if row is None else _to_membership(row)

    def list_for_user(self, user_id: int) -> list[Membership]:
        query = select(portal_memberships).where(portal_memberships.c.user_id == user_id)
        return [_to_membership(row) for row in self._db.execute(query)]

    def list_for_site(self, site_id: int) -> list[Membership]:
        query = select(portal_memberships).where(portal_memberships.c.site_id == site_id)
        return [_to_membership(row) for row in self._db.execute(query)]


def _to_membership(row: Row[tuple[object, ...]]) -> Membership:
    return Membership(int(row.user_id), int(row.site_id), MemberRole(row.role))


class SqlAlchemySessionRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, session: PortalSession) -> None:
        self._db.execute(
            insert(portal_sessions).values(
                session_hash=session.session_hash,
                user_id=session.user_id,
                created_ms=session.created_ms,
                expires_ms=session.expires_ms,
            )
        )

    def get(self, session_hash: str) -> PortalSession | None:
        query = select(portal_sessions).where(portal_sessions.c.session_hash == session_hash)
        row = self._db.execute(query).first()
        if row is None:
            return None
        return PortalSession(
            row.session_hash, int(row.user_id), int(row.created_ms), int(row.expires_ms)
        )

    def delete(self, session_hash: str) -> None:
        self._db.execute(
            delete(portal_sessions).where(portal_sessions.c.session_hash == session_hash)
        )

    def delete_for_user(self, user_id: int) -> None:
        self._db.execute(delete(portal_sessions).where(portal_sessions.c.user_id == user_id))

    def delete_expired(self, now_ms: int) -> None:
        self._db.execute(delete(portal_sessions).where(portal_sessions.c.expires_ms <= now_ms))


class SqlAlchemyOneTimeTokenRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, token: OneTimeToken) -> None:
        self._db.execute(
            insert(portal_tokens).values(
                token_hash=token.token_hash,
                user_id=token.user_id,
                purpose=token.purpose.value,
                created_ms=token.created_ms,
                expires_ms=token.expires_ms,
                used=token.used,
            )
        )

    def get(self, token_hash: str) -> OneTimeToken | None:
        query = select(portal_tokens).where(portal_tokens.c.token_hash == token_hash)
        row = self._db.execute(query).first()
        if row is None:
            return None
        return OneTimeToken(
            token_hash=row.token_hash,
            user_id=int(row.user_id),
            purpose=TokenPurpose(row.purpose),
            created_ms=int(row.created_ms),
            expires_ms=int(row.expires_ms),
            used=bool(row.used),
        )

    def use_all_for_user(self, user_id: int) -> None:
        """Spends every open link of ``user_id``: a new link or a new password voids the old."""
        query = update(portal_tokens).where(portal_tokens.c.user_id == user_id)
        self._db.execute(query.values(used=True))
