"""What every portal service needs: the store, the clock, randomness, and the error seam."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine

from uid2.admin.context import Context, Entropy
from uid2.admin.errors import AdminError
from uid2.portal.errors import PortalError, forbidden
from uid2.store.errors import StoreError
from uid2.store.records import MemberRole, PortalUser
from uid2.store.secrets import SecretBox
from uid2.store.uow import SqlAlchemyUnitOfWork


@dataclass(frozen=True, slots=True)
class Runtime:
    engine: Engine
    box: SecretBox | None = field(repr=False)
    clock_ms: Callable[[], int]
    entropy: Entropy

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box)

    def reader(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.box, read_only=True)

    def context(self, actor: str) -> Context:
        return Context(now_ms=self.clock_ms(), actor=actor, entropy=self.entropy)


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Admin and store refusals become :class:`PortalError` (the one seam)."""
    try:
        yield
    except AdminError as error:
        raise PortalError.from_admin(error) from None
    except StoreError as error:
        raise PortalError.from_store(error) from None


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user and their role in each participant they belong to."""

    user: PortalUser
    roles: Mapping[int, MemberRole]

    @property
    def actor(self) -> str:
        return f"portal:{self.user.email}"

    @property
    def is_platform_admin(self) -> bool:
        return self.user.platform_admin

    def role_in(self, site_id: int) -> MemberRole | None:
        """Platform admins act as Admin of every participant (portal-and-sharing §2.2)."""
        return MemberRole.ADMIN if self.is_platform_admin else self.roles.get(site_id)

    def require_member(self, site_id: int) -> MemberRole:
        role = self.role_in(site_id)
        if role is None:
            raise forbidden("you are not a member of this participant")
        return role

    def require_site_admin(self, site_id: int) -> None:
        if self.require_member(site_id) is not MemberRole.ADMIN:
            raise forbidden("only the participant's Admins can do this")

    def require_platform_admin(self) -> None:
        if not self.is_platform_admin:
            raise forbidden("only platform admins can do this")
