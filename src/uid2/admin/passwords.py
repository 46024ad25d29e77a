"""Portal passwords: rules, argon2id hashing and verification.

A login for an unknown email still verifies against a fixed hash, so the answer takes the same
time whether or not the account exists.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from uid2.admin.errors import AdminError, AdminErrorCode

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
_HASHER = PasswordHasher()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(
            AdminErrorCode.BAD_PASSWORD,
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AdminError(
            AdminErrorCode.BAD_PASSWORD,
            f"the password must have at most {MAX_PASSWORD_LENGTH} characters",
        )
    if password.strip() != password or not password.isprintable():
        raise AdminError(
            AdminErrorCode.BAD_PASSWORD,
            "the password must not start or end with spaces or hold control characters",
        )


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash costs one verification all the same."""
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _HASHER.hash("no account has this password")
