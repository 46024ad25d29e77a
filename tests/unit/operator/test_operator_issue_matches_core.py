"""The operator's token issuing gives the same bytes as the core's encoders.

``services.common.issue_identity`` calls the core's low-level packers (``pack_payloads``,
``seal_refresh_token``) rather than building ``TokenFields``/``RefreshTokenFields`` per request;
with the same nonces its output must equal what the core's encoders build (operator.md
§3.6-§3.8).
"""

from __future__ import annotations

import base64

import pytest
from operator_world import PUBLISHER, World, expected_flh, make_world

from uid2.core.dii import hash_dii
from uid2.core.enums import AdvertisingTokenVersion, IdentityScope, IdentityType
from uid2.core.refresh import RefreshTokenFields, encode_refresh_token, wrap_refresh_token
from uid2.core.tokens import OperatorIdentity, TokenFields, encode_token
from uid2.operator.holder import InMemorySnapshotSource
from uid2.operator.services.common import IdentitySpec, current_raw_uid, issue_identity

RANDOM = bytes(range(80))


@pytest.mark.parametrize("scope", [IdentityScope.UID2, IdentityScope.EUID])
@pytest.mark.parametrize("kind", [IdentityType.Email, IdentityType.Phone])
@pytest.mark.parametrize("privacy_bits", [1, 3])
def test_issue_identity_equals_the_core_encoders(
    scope: IdentityScope, kind: IdentityType, privacy_bits: int
) -> None:
    world: World = make_world(scope=scope)
    settings = world.settings()
    snapshot = InMemorySnapshotSource(world.plane).load()
    now = world.now_ms
    flh = expected_flh(hash_dii("same@example.com"))
    spec = IdentitySpec(PUBLISHER, kind, flh, privacy_bits, now - 5000)
    body = issue_identity(snapshot, settings, spec, now, lambda n: RANDOM[:n])

    master, site_key, refresh_key = (
        snapshot.master_key(now),
        snapshot.site_key(PUBLISHER, now),
        snapshot.refresh_key(now),
    )
    assert master and site_key and refresh_key
    raw_uid = current_raw_uid(snapshot, settings, flh, kind)
    fields = TokenFields(
        version=AdvertisingTokenVersion.ADVERTISING_TOKEN_V4, identity_scope=scope,
        identity_type=kind, master_key_id=master.key_id, site_key_id=site_key.key_id,
        expires_ms=now + 259_200_000, site_id=PUBLISHER, established_ms=now - 5000,
        raw_uid=raw_uid, generated_ms=now, refreshed_ms=now, operator=OperatorIdentity(),
        privacy_bits=privacy_bits,
    )  # fmt: skip
    token = encode_token(
        fields, master_secret=master.secret, site_secret=site_key.secret,
        master_nonce=RANDOM[0:12], site_nonce=RANDOM[12:24],
    )  # fmt: skip
    assert body["advertising_token"] == token
    inner = encode_refresh_token(
        RefreshTokenFields(
            expires_ms=now + 2_592_000_000, created_ms=now, site_id=PUBLISHER,
            privacy_bits=privacy_bits, established_ms=now - 5000, first_level_hash=flh,
            scope=scope, identity_type=kind,
        ),
        refresh_key,
        nonce=RANDOM[24:36],
    )  # fmt: skip
    wrapped = wrap_refresh_token(inner, RANDOM[48:80], refresh_key, scope, nonce=RANDOM[36:48])
    assert body["refresh_token"] == wrapped
    assert body["refresh_response_key"] == base64.b64encode(RANDOM[48:80]).decode()
