"""A short walk through the protocol core, run by ``make run`` / ``uid2 demo``.

It follows one email from a publisher to a DSP with demo keys and salts: normalise and hash it,
derive its raw UID2, make the advertising token an operator would issue, decrypt it back with the
SDK, and share the raw UID2 as a token. Only demo material is printed; real deployments never
print raw UID2s or keys.
"""

from __future__ import annotations

import json
import os
import time

from uid2.core.dii import hash_dii, normalize_email
from uid2.core.encoding import b64encode
from uid2.core.enums import AdvertisingTokenVersion, IdentityScope, IdentityType
from uid2.core.keys import MASTER_KEYSET_ID_FOR_SDKS, Key
from uid2.core.rawuid import bucket_index, first_level_hash, raw_uid_v2
from uid2.core.tokens import TokenFields, encode_token
from uid2.sdk.key_clients import BidstreamClient, SharingClient

DEMO_EMAIL = "  Jane.Doe+Newsletter@GMail.com "
DEMO_FIRST_LEVEL_SALT = "demo-first-level-salt"
DEMO_ROTATING_SALT = "demo-rotating-salt-bucket-0"
DEMO_SITE_ID = 1001
_YEAR_S = 365 * 86400


def _demo_key(key_id: int, keyset_id: int, now_s: int) -> Key:
    return Key(key_id, os.urandom(32), now_s - 60, now_s - 60, now_s + _YEAR_S, keyset_id=keyset_id)


def _key_response(master: Key, site: Key) -> str:
    """The decrypted ``/v2/key/sharing`` answer an operator would send for these keys."""
    keys = [
        {
            "id": k.key_id,
            "keyset_id": keyset,
            "created": k.created,
            "activates": k.activates,
            "expires": k.expires,
            "secret": b64encode(k.secret),
        }
        for k, keyset in ((master, MASTER_KEYSET_ID_FOR_SDKS), (site, site.keyset_id))
    ]
    body = {
        "caller_site_id": DEMO_SITE_ID,
        "master_keyset_id": MASTER_KEYSET_ID_FOR_SDKS,
        "default_keyset_id": site.keyset_id,
        "token_expiry_seconds": "2592000",
        "identity_scope": "UID2",
        "keys": keys,
    }
    return json.dumps({"body": body})


def _advertising_token(raw_uid: bytes, master: Key, site: Key, now_ms: int) -> str:
    fields = TokenFields(
        version=AdvertisingTokenVersion.ADVERTISING_TOKEN_V4,
        identity_scope=IdentityScope.UID2,
        identity_type=IdentityType.Email,
        master_key_id=master.key_id,
        site_key_id=site.key_id,
        expires_ms=now_ms + 3 * 86_400_000,
        generated_ms=now_ms,
        refreshed_ms=now_ms,
        site_id=DEMO_SITE_ID,
        established_ms=now_ms,
        privacy_bits=1,
        raw_uid=raw_uid,
    )
    return encode_token(
        fields,
        master_secret=master.secret,
        site_secret=site.secret,
        master_nonce=os.urandom(12),
        site_nonce=os.urandom(12),
    )


def main() -> None:
    now_ms = time.time_ns() // 1_000_000
    normalized = normalize_email(DEMO_EMAIL)
    assert normalized is not None
    dii_hash = hash_dii(normalized)
    flh = first_level_hash(dii_hash, DEMO_FIRST_LEVEL_SALT)
    raw_uid = raw_uid_v2(flh, DEMO_ROTATING_SALT)
    print(f"1. email {DEMO_EMAIL!r} normalises to {normalized!r}")
    print(f"2. its DII hash (what a publisher sends) is {b64encode(dii_hash)}")
    print(f"3. salt bucket {bucket_index(flh, 1 << 20)}; raw UID2 (demo salt) {b64encode(raw_uid)}")

    master, site = _demo_key(1, -1, now_ms // 1000), _demo_key(2, 20, now_ms // 1000)
    keys = _key_response(master, site)
    token = _advertising_token(raw_uid, master, site, now_ms)
    print(f"4. advertising token v4 ({len(token)} chars): {token[:24]}...")

    dsp = BidstreamClient("http://127.0.0.1:1", "demo-key", b64encode(bytes(32)))
    dsp.refresh_json(keys)
    decrypted = dsp.decrypt_token_into_raw_uid(token, None)
    same = decrypted.uid == b64encode(raw_uid)
    print(f"5. a DSP decrypts it: {decrypted.status.name}, same raw UID2: {same}")

    sharer = SharingClient("http://127.0.0.1:1", "demo-key", b64encode(bytes(32)))
    sharer.refresh_json(keys)
    shared = sharer.encrypt_raw_uid_into_token(b64encode(raw_uid))
    back = sharer.decrypt_token_into_raw_uid(shared.encrypted_data or "")
    same = back.uid == b64encode(raw_uid)
    print(f"6. shared as a token ({shared.status.name}), decrypted back: {same}")
    dsp.close()
    sharer.close()


if __name__ == "__main__":
    main()
