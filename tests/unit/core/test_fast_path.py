"""The fast path may only ever return what the general path would (uid2.core.tokens.fast_path)."""

from __future__ import annotations

import base64

import token_fixtures as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from uid2.core.enums import ClientType, DecryptionStatus, IdentityScope, IdentityType
from uid2.core.tokens.decrypt import decrypt_general, decrypt_token
from uid2.core.tokens.fast_path import try_fast_decrypt

offsets = st.integers(min_value=-40 * tf.DAY, max_value=40 * tf.DAY)
token_cases = st.fixed_dictionaries(
    {
        "version": st.sampled_from(tf.GCM),
        "identity_scope": st.sampled_from(IdentityScope),
        "privacy_bits": st.sampled_from([0, 1, 2, 3]),
        "expires_ms": offsets.map(lambda d: tf.NOW_MS + d),
        "generated_ms": offsets.map(lambda d: tf.NOW_MS + d),
        "raw_uid": st.sampled_from(
            [base64.b64decode(u) for u in (tf.EMAIL_UID, tf.UID2_EMAIL_V3, tf.EUID_EMAIL_V3)]
        ),
    }
)


v2_cases = st.fixed_dictionaries(
    {
        "version": st.just(tf.V2),
        "privacy_bits": st.sampled_from([0, 1, 2, 3]),
        "expires_ms": offsets.map(lambda d: tf.NOW_MS + d),
        "raw_uid": st.sampled_from([base64.b64decode(u) for u in (tf.EMAIL_UID, tf.UID2_EMAIL_V3)]),
    }
)


def _matching_type(case: dict[str, object]) -> dict[str, object]:
    raw = case["raw_uid"]
    assert isinstance(raw, bytes)
    if len(raw) == 33:  # the encoder refuses a header that disagrees with the raw UID
        case["identity_type"] = IdentityType.Email
        case["identity_scope"] = IdentityScope((raw[0] >> 4) & 1)
    return case


@settings(max_examples=400, deadline=None)
@given(
    case=token_cases.map(_matching_type) | v2_cases,
    scope=st.sampled_from(IdentityScope),
    client_type=st.sampled_from(ClientType),
    name=st.sampled_from([None, "example.com", "other.com"]),
    mutate_at=st.none() | st.integers(min_value=0, max_value=300),
)
def test_fast_path_agrees_with_the_general_path(
    case: dict[str, object],
    scope: IdentityScope,
    client_type: ClientType,
    name: str | None,
    mutate_at: int | None,
) -> None:
    text = tf.token(**case)  # type: ignore[arg-type]
    if mutate_at is not None and mutate_at < len(text):
        flipped = "B" if text[mutate_at] != "B" else "C"
        text = text[:mutate_at] + flipped + text[mutate_at + 1 :]
    keyring = tf.keyring(identity_scope=scope, site_data={tf.SITE_ID: frozenset({"example.com"})})
    general = decrypt_general(text, keyring, tf.NOW_MS, client_type, name)
    fast = try_fast_decrypt(text, keyring, tf.NOW_MS, client_type, name)
    if fast is not None:
        assert fast == general
        assert fast.status is DecryptionStatus.SUCCESS
    assert (
        decrypt_token(
            text, keyring, now_ms=tf.NOW_MS, client_type=client_type, domain_or_app_name=name
        )
        == general
    )


def test_fast_path_takes_the_common_case() -> None:
    keyring = tf.keyring()
    for version in tf.ALL:
        result = try_fast_decrypt(tf.token(version), keyring, tf.NOW_MS, ClientType.BIDSTREAM, None)
        assert result is not None and result.uid == tf.EMAIL_UID
