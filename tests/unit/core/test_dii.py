"""Unit tests for uid2.core.dii against tests/vectors/normalization.json (operator.md §3.1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uid2.core.dii import (
    DiiKind,
    EmailRule,
    HashedDii,
    dii_hash_for,
    hash_dii,
    hash_dii_b64,
    hashed_dii,
    is_phone_valid,
    is_phone_valid_sdk_compat,
    normalize_and_hash_email,
    normalize_and_hash_phone,
    normalize_email,
    normalize_email_sdk_compat,
    parse_hash_input,
)
from uid2.core.encoding import b64decode_strict, b64encode
from uid2.core.enums import IdentityType

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "normalization.json").read_text("utf-8")
)
EMAILS = VECTORS["email"]
PHONES = VECTORS["phone"]
HASH_INPUTS = VECTORS["hash_input"]
RULE_SIDES = [(EmailRule.OPERATOR, "operator"), (EmailRule.SDK_COMPAT, "sdk")]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [repr(v["input"]) for v in vectors]


# --- vectors -----------------------------------------------------------------------------------


def test_vector_file_has_provenance() -> None:
    assert "operator.md" in VECTORS["provenance"]


@pytest.mark.parametrize(("rule", "side"), RULE_SIDES)
@pytest.mark.parametrize("vector", EMAILS, ids=_ids(EMAILS))
def test_email_vectors(vector: dict[str, Any], rule: EmailRule, side: str) -> None:
    expected = vector[side]
    normalized = normalize_email(vector["input"], rule)
    if expected is None:
        assert normalized is None
        with pytest.raises(ValueError):
            normalize_and_hash_email(vector["input"], rule)
        return
    assert normalized is not None
    assert normalized == expected["normalized"]
    assert hash_dii_b64(normalized) == expected["hash_b64"]
    assert normalize_and_hash_email(vector["input"], rule) == expected["hash_b64"]


@pytest.mark.parametrize("vector", PHONES, ids=_ids(PHONES))
def test_phone_vectors(vector: dict[str, Any]) -> None:
    phone = vector["input"]
    assert is_phone_valid(phone) is vector["operator_valid"]
    assert is_phone_valid_sdk_compat(phone) is vector["sdk_valid"]
    if vector["operator_valid"]:
        assert normalize_and_hash_phone(phone) == vector["hash_b64"]
    else:
        with pytest.raises(ValueError):
            normalize_and_hash_phone(phone)


@pytest.mark.parametrize("vector", HASH_INPUTS, ids=_ids(HASH_INPUTS))
def test_hash_input_vectors(vector: dict[str, Any]) -> None:
    parsed = parse_hash_input(vector["input"])
    expected = vector["hash_hex"]
    assert parsed == (None if expected is None else bytes.fromhex(expected))


# --- email details -----------------------------------------------------------------------------


def test_default_rule_is_operator() -> None:
    assert normalize_email("a b@test.com") == "ab@test.com"
    assert normalize_and_hash_email("a b@test.com") == hash_dii_b64("ab@test.com")


def test_sdk_compat_keeps_inner_local_spaces() -> None:
    assert normalize_email_sdk_compat("  a b@test.com") == "a b@test.com"


def test_only_ascii_letters_are_lowercased() -> None:
    assert normalize_email("ÄÖ.X@EXAMPLE.COM") == "ÄÖ.x@example.com"


def test_gmail_rule_needs_exact_domain() -> None:
    assert normalize_email("a.b+c@gmail.com") == "ab@gmail.com"
    assert normalize_email("a.b+c@gmail.co") == "a.b+c@gmail.co"
    assert normalize_email("a.b+c@mail.gmail.com") == "a.b+c@mail.gmail.com"


def test_domain_keeps_inner_and_leading_spaces_but_not_trailing() -> None:
    assert normalize_email("x@ a b  ") == "x@ a b"


def test_only_ascii_space_is_special() -> None:
    assert normalize_email("a\u00a0b@x ") == "a\u00a0b@x"
    assert normalize_email("ab@x\t") == "ab@x\t"


def test_email_error_message_omits_input() -> None:
    secret = "secret.person@nowhere"
    with pytest.raises(ValueError) as info:
        normalize_and_hash_email(secret + "@twice")
    assert "secret" not in str(info.value)


# --- phone and hashing -------------------------------------------------------------------------


def test_phone_error_message_omits_input() -> None:
    with pytest.raises(ValueError) as info:
        normalize_and_hash_phone("+1555123456x")
    assert "1555123456" not in str(info.value)


def test_sdk_compat_phone_accepts_none() -> None:
    assert is_phone_valid_sdk_compat(None) is False


def test_hash_dii_is_sha256_of_utf8() -> None:
    digest = hash_dii("😊@x")
    assert digest == hashlib.sha256("😊@x".encode()).digest()
    assert len(digest) == 32
    assert len(hash_dii_b64("x")) == 44


def test_hash_dii_replaces_lone_surrogates_like_java() -> None:
    assert hash_dii("a\ud800@b") == hash_dii("a?@b")


# --- request identities ------------------------------------------------------------------------

EMAIL_HASH = hash_dii("test@example.com")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (DiiKind.EMAIL, " Test@Example.com "),
        (DiiKind.EMAIL_HASH, b64encode(EMAIL_HASH)),
        (DiiKind.EMAIL_HASH, EMAIL_HASH.hex()),
    ],
)
def test_dii_hash_for_email_forms(kind: DiiKind, value: str) -> None:
    assert dii_hash_for(kind, value) == EMAIL_HASH
    assert hashed_dii(kind, value) == HashedDii(IdentityType.Email, EMAIL_HASH)


def test_dii_hash_for_phone_forms() -> None:
    phone_hash = hash_dii("+12345678901")
    assert dii_hash_for(DiiKind.PHONE, "+12345678901") == phone_hash
    assert dii_hash_for(DiiKind.PHONE_HASH, phone_hash.hex().upper()) == phone_hash
    assert hashed_dii(DiiKind.PHONE, "+12345678901") == HashedDii(IdentityType.Phone, phone_hash)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (DiiKind.EMAIL, "bogus"),
        (DiiKind.EMAIL, 42),
        (DiiKind.EMAIL, None),
        (DiiKind.EMAIL_HASH, "test@example.com"),
        (DiiKind.PHONE, "555-555-5555"),
        (DiiKind.PHONE, "+١٢٣٤٥٦٧٨٩٠"),
        (DiiKind.PHONE_HASH, ["a"]),
    ],
)
def test_dii_hash_for_invalid(kind: DiiKind, value: object) -> None:
    assert dii_hash_for(kind, value) is None
    assert hashed_dii(kind, value) is None


def test_dii_kind_values_are_request_field_names() -> None:
    assert [k.value for k in DiiKind] == ["email", "email_hash", "phone", "phone_hash"]
    assert [k.is_hashed for k in DiiKind] == [False, True, False, True]


# --- properties --------------------------------------------------------------------------------

# Mostly email-shaped text, so that the interesting branches are reached often.
EMAILISH = st.text(alphabet=st.sampled_from("aAzZ.+@ \t1ÄgmailGMAIL.com😊"), max_size=30)
ANY_TEXT = st.text()


@given(st.one_of(ANY_TEXT, EMAILISH), st.sampled_from(EmailRule))
def test_normalize_email_never_raises_and_is_idempotent(text: str, rule: EmailRule) -> None:
    normalized = normalize_email(text, rule)
    if normalized is not None:
        assert normalize_email(normalized, rule) == normalized


@given(st.one_of(ANY_TEXT, EMAILISH))
def test_phone_checks_never_raise(text: str) -> None:
    if is_phone_valid(text):
        assert is_phone_valid_sdk_compat(text)


@given(st.one_of(ANY_TEXT, st.text(alphabet="0123456789abcdefABCDEF+/= ", max_size=70)))
def test_parse_hash_input_never_raises(text: str) -> None:
    parsed = parse_hash_input(text)
    assert parsed is None or len(parsed) == 32


@given(st.binary(min_size=32, max_size=32))
def test_parse_hash_input_round_trips(digest: bytes) -> None:
    assert parse_hash_input(b64encode(digest)) == digest
    assert parse_hash_input(digest.hex()) == digest
    assert parse_hash_input(digest.hex().upper()) == digest
    assert b64decode_strict(b64encode(digest)) == digest


@given(EMAILISH, st.one_of(ANY_TEXT, EMAILISH))
def test_rules_agree_without_inner_local_spaces(local: str, domain: str) -> None:
    local = local.replace("@", "").lstrip(" ")
    local = " " * (len(local) % 3) + local.replace(" ", "")  # leading spaces only
    email = f"{local}@{domain}"
    assert normalize_email(email) == normalize_email_sdk_compat(email)
