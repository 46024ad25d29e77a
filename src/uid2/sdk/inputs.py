"""Request builders: what to tokenize or map.

Emails and phones are normalised and hashed here, on the caller's machine, so raw DII never
leaves it (unless ``do_not_hash()`` is asked for). Normalisation follows the **operator's** rule
(``uid2.core.dii``), so a hash made here equals the one the operator would make from the raw
value; the official SDK keeps inner spaces of the local part and so can disagree
(sdk.md §8.1, §11.11).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Literal

from uid2.core.dii import normalize_and_hash_email, normalize_and_hash_phone
from uid2.core.enums import IdentityType

HashedKind = Literal["email_hash", "phone_hash"]


class _Form(Enum):
    RAW = "raw"  # hash locally before sending (the default)
    SEND_RAW = "send_raw"  # do_not_hash(): send the value itself
    HASHED = "hashed"  # caller already hashed it


def _hash(identity_type: IdentityType, value: str) -> str:
    if identity_type is IdentityType.Email:
        return normalize_and_hash_email(value)
    return normalize_and_hash_phone(value)


def _field(identity_type: IdentityType, hashed: bool) -> str:
    base = "email" if identity_type is IdentityType.Email else "phone"
    return f"{base}_hash" if hashed else base


class TokenGenerateInput:
    def __init__(
        self,
        identity_type: IdentityType,
        email_or_phone: str,
        need_hash: bool,
        already_hashed: bool,
    ) -> None:
        self._identity_type = identity_type
        self._value = email_or_phone
        self._form = (
            _Form.HASHED if already_hashed else (_Form.RAW if need_hash else _Form.SEND_RAW)
        )
        self._tc_string: str | None = None

    @staticmethod
    def from_email(email: str) -> TokenGenerateInput:
        return TokenGenerateInput(IdentityType.Email, email, True, False)

    @staticmethod
    def from_phone(phone: str) -> TokenGenerateInput:
        return TokenGenerateInput(IdentityType.Phone, phone, True, False)

    @staticmethod
    def from_hashed_email(hashed_email: str) -> TokenGenerateInput:
        return TokenGenerateInput(IdentityType.Email, hashed_email, False, True)

    @staticmethod
    def from_hashed_phone(hashed_phone: str) -> TokenGenerateInput:
        return TokenGenerateInput(IdentityType.Phone, hashed_phone, False, True)

    def with_transparency_and_consent_string(self, tc_string: str) -> TokenGenerateInput:
        self._tc_string = tc_string
        return self

    def do_not_hash(self) -> TokenGenerateInput:
        """Send the raw email or phone; the operator normalises and hashes it."""
        if self._form is _Form.RAW:
            self._form = _Form.SEND_RAW
        return self

    def do_not_generate_tokens_for_opted_out(self) -> TokenGenerateInput:
        """No-op kept for compatibility: the operator never makes tokens for opted-out users."""
        warnings.warn(
            "do_not_generate_tokens_for_opted_out() is a no-op; opt-outs are always respected",
            DeprecationWarning,
            stacklevel=2,
        )
        return self

    def as_request(self) -> dict[str, str]:
        """The request JSON object; raises ValueError for an invalid email or phone."""
        if self._form is _Form.RAW:
            request = {_field(self._identity_type, True): _hash(self._identity_type, self._value)}
        else:
            request = {_field(self._identity_type, self._form is _Form.HASHED): self._value}
        if self._tc_string is not None:
            request["tcf_consent_string"] = self._tc_string
        return request

    def get_as_json_string(self) -> str:
        return json.dumps(self.as_request())


class _DiiIndex:
    """Remembers which caller inputs produced each hash, so results map back to inputs."""

    def __init__(self) -> None:
        self.hashes: dict[HashedKind, list[str]] = {"email_hash": [], "phone_hash": []}
        self._inputs: dict[tuple[HashedKind, str], list[str]] = {}

    def add(self, kind: HashedKind, hashed: str, original: str) -> None:
        self.hashes[kind].append(hashed)
        self._inputs.setdefault((kind, hashed), []).append(original)

    def inputs_for(self, kind: HashedKind, hashed: str) -> list[str]:
        return self._inputs.get((kind, hashed), [])


def _kind(identity_type: IdentityType) -> HashedKind:
    return "email_hash" if identity_type is IdentityType.Email else "phone_hash"


class IdentityMapInput:
    """Input of ``/v2/identity/map``: one identity type per request (as the v2 API wants)."""

    def __init__(
        self, identity_type: IdentityType, emails_or_phones: Iterable[str], already_hashed: bool
    ) -> None:
        self._identity_type = identity_type
        self._index = _DiiIndex()
        kind = _kind(identity_type)
        for value in emails_or_phones:
            hashed = value if already_hashed else _hash(identity_type, value)
            self._index.add(kind, hashed, value)

    @staticmethod
    def from_emails(emails: Iterable[str]) -> IdentityMapInput:
        return IdentityMapInput(IdentityType.Email, emails, False)

    @staticmethod
    def from_phones(phones: Iterable[str]) -> IdentityMapInput:
        return IdentityMapInput(IdentityType.Phone, phones, False)

    @staticmethod
    def from_hashed_emails(hashed_emails: Iterable[str]) -> IdentityMapInput:
        return IdentityMapInput(IdentityType.Email, hashed_emails, True)

    @staticmethod
    def from_hashed_phones(hashed_phones: Iterable[str]) -> IdentityMapInput:
        return IdentityMapInput(IdentityType.Phone, hashed_phones, True)

    @property
    def identity_type(self) -> IdentityType:
        return self._identity_type

    def get_raw_diis(self, identifier: str) -> list[str]:
        return self._index.inputs_for(_kind(self._identity_type), identifier)

    def as_request(self) -> dict[str, list[str] | None]:
        kind = _kind(self._identity_type)
        other: HashedKind = "phone_hash" if kind == "email_hash" else "email_hash"
        return {kind: list(self._index.hashes[kind]), other: None}

    def get_identity_map_input_as_json_string(self) -> str:
        return json.dumps(self.as_request())


class IdentityMapV3Input:
    """Input of ``/v3/identity/map``: emails and phones may be mixed in one request."""

    def __init__(self) -> None:
        self._index = _DiiIndex()

    @staticmethod
    def from_emails(emails: Sequence[str]) -> IdentityMapV3Input:
        return IdentityMapV3Input().with_emails(emails)

    @staticmethod
    def from_phones(phones: Sequence[str]) -> IdentityMapV3Input:
        return IdentityMapV3Input().with_phones(phones)

    @staticmethod
    def from_hashed_emails(hashed_emails: Sequence[str]) -> IdentityMapV3Input:
        return IdentityMapV3Input().with_hashed_emails(hashed_emails)

    @staticmethod
    def from_hashed_phones(hashed_phones: Sequence[str]) -> IdentityMapV3Input:
        return IdentityMapV3Input().with_hashed_phones(hashed_phones)

    def with_emails(self, emails: Sequence[str]) -> IdentityMapV3Input:
        for email in emails:
            self.with_email(email)
        return self

    def with_email(self, email: str) -> IdentityMapV3Input:
        self._index.add("email_hash", normalize_and_hash_email(email), email)
        return self

    def with_phones(self, phones: Sequence[str]) -> IdentityMapV3Input:
        for phone in phones:
            self.with_phone(phone)
        return self

    def with_phone(self, phone: str) -> IdentityMapV3Input:
        self._index.add("phone_hash", normalize_and_hash_phone(phone), phone)
        return self

    def with_hashed_emails(self, hashed_emails: Sequence[str]) -> IdentityMapV3Input:
        for hashed in hashed_emails:
            self.with_hashed_email(hashed)
        return self

    def with_hashed_email(self, hashed_email: str) -> IdentityMapV3Input:
        self._index.add("email_hash", hashed_email, hashed_email)
        return self

    def with_hashed_phones(self, hashed_phones: Sequence[str]) -> IdentityMapV3Input:
        for hashed in hashed_phones:
            self.with_hashed_phone(hashed)
        return self

    def with_hashed_phone(self, hashed_phone: str) -> IdentityMapV3Input:
        self._index.add("phone_hash", hashed_phone, hashed_phone)
        return self

    def hashes(self, kind: HashedKind) -> list[str]:
        return self._index.hashes[kind]

    def get_input_diis(self, identity_type: HashedKind, index: int) -> list[str]:
        return self._index.inputs_for(identity_type, self._index.hashes[identity_type][index])

    def as_request(self) -> dict[str, list[str]]:
        # Both arrays are always sent: an empty request must map to empty results, and the
        # operator answers 400 to a body with no identity key at all (operator.md §1.11).
        return {kind: list(values) for kind, values in self._index.hashes.items()}

    def get_identity_map_input_as_json_string(self) -> str:
        return json.dumps(self.as_request())
