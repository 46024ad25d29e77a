"""Small conversions between rows and values, shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TypeVar

from sqlalchemy import Column, Table

from uid2.store.errors import StoreError, StoreErrorCode
from uid2.store.secrets import SecretBox

E = TypeVar("E", bound=Enum)


def secret_context(table: Table, column: Column[bytes], row_id: object) -> str:
    """The AAD that binds a sealed value to its cell (see :mod:`uid2.store.secrets`)."""
    return f"{table.name}.{column.name}:{row_id}"


def require_box(box: SecretBox | None) -> SecretBox:
    if box is None:
        raise StoreError(StoreErrorCode.KEK_MISSING, "this operation needs the KEK")
    return box


def join_enums(values: Iterable[Enum]) -> str:
    return ",".join(sorted(str(v.value) for v in values))


def split_enums(enum_type: type[E], text: str) -> frozenset[E]:
    return frozenset(enum_type(part) for part in text.split(",") if part)
