"""DII rules checked against the official SDK, uid2_client 2.9.0 (sdk.md §8, §11 item 11).

Our SDK-compatible variants must agree with it everywhere. Our operator variants must agree with
it wherever the email's local part has no inner spaces and the phone uses ASCII digits: those are
the only documented divergences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from uid2_client import input_util as oracle

from uid2.core.dii import (
    EmailRule,
    is_phone_valid,
    is_phone_valid_sdk_compat,
    normalize_and_hash_email,
    normalize_and_hash_phone,
    normalize_email,
    normalize_email_sdk_compat,
)

pytestmark = pytest.mark.interop

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "normalization.json").read_text("utf-8")
)
EMAIL_INPUTS: list[str] = [v["input"] for v in VECTORS["email"]]
PHONE_INPUTS: list[str] = [v["input"] for v in VECTORS["phone"]]
SAME_ON_BOTH_SIDES = [v["input"] for v in VECTORS["email"] if v["operator"] == v["sdk"]]
DIVERGENT = [v for v in VECTORS["email"] if v["operator"] != v["sdk"]]

EMAILISH = st.text(alphabet=st.sampled_from("aAzZ.+@ \t1ÄgmailGMAIL.com😊\u00a0"), max_size=30)
EMAILS = st.one_of(EMAILISH, st.text())
PHONEISH = st.text(alphabet=st.sampled_from("+0123456789 -()a١²"), max_size=20)
PHONES = st.one_of(PHONEISH, st.text(max_size=20))


def _oracle_hash_email(email: str) -> str | None:
    try:
        return str(oracle.normalize_and_hash_email(email))
    except ValueError:
        return None


def _our_hash_email(email: str, rule: EmailRule) -> str | None:
    try:
        return normalize_and_hash_email(email, rule)
    except ValueError:
        return None


def _no_inner_local_spaces(email: str) -> bool:
    local = email.partition("@")[0].lstrip(" ")
    return " " not in local


# --- email -------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", EMAIL_INPUTS)
def test_sdk_compat_matches_oracle_on_vectors(email: str) -> None:
    assert normalize_email_sdk_compat(email) == oracle.normalize_email_string(email)
    assert _our_hash_email(email, EmailRule.SDK_COMPAT) == _oracle_hash_email(email)


@pytest.mark.parametrize("email", SAME_ON_BOTH_SIDES)
def test_operator_rule_matches_oracle_on_shared_vectors(email: str) -> None:
    assert normalize_email(email) == oracle.normalize_email_string(email)
    assert _our_hash_email(email, EmailRule.OPERATOR) == _oracle_hash_email(email)


@pytest.mark.parametrize("vector", DIVERGENT, ids=[repr(v["input"]) for v in DIVERGENT])
def test_oracle_shows_documented_divergence(vector: dict[str, Any]) -> None:
    sdk_side = vector["sdk"] and vector["sdk"]["normalized"]
    assert oracle.normalize_email_string(vector["input"]) == sdk_side
    assert normalize_email(vector["input"]) != sdk_side


@given(EMAILS)
def test_sdk_compat_matches_oracle_on_generated_emails(email: str) -> None:
    assert normalize_email_sdk_compat(email) == oracle.normalize_email_string(email)


@given(EMAILS)
def test_operator_rule_matches_oracle_without_inner_local_spaces(email: str) -> None:
    ours = normalize_email(email)
    if _no_inner_local_spaces(email):
        assert ours == oracle.normalize_email_string(email)
    # In general, the operator's result is the SDK's once the local part's spaces are gone.
    local, sep, rest = email.partition("@")
    assert ours == oracle.normalize_email_string(local.replace(" ", "") + sep + rest)


@given(EMAILISH)
def test_hashes_match_oracle_on_generated_emails(email: str) -> None:
    assert _our_hash_email(email, EmailRule.SDK_COMPAT) == _oracle_hash_email(email)


# --- phone -------------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", [*PHONE_INPUTS, None])
def test_sdk_compat_phone_matches_oracle_on_vectors(phone: str | None) -> None:
    assert is_phone_valid_sdk_compat(phone) is oracle.is_phone_number_normalized(phone)


@given(PHONES)
def test_phone_rules_against_oracle(phone: str) -> None:
    assert is_phone_valid_sdk_compat(phone) is oracle.is_phone_number_normalized(phone)
    if phone.isascii():
        assert is_phone_valid(phone) is oracle.is_phone_number_normalized(phone)


@pytest.mark.parametrize("phone", [p for p in PHONE_INPUTS if is_phone_valid(p)])
def test_phone_hash_matches_oracle(phone: str) -> None:
    assert normalize_and_hash_phone(phone) == oracle.normalize_and_hash_phone(phone)
