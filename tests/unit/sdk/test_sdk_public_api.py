"""The package root is the SDK's public surface; it must not drift silently."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import uid2

# names code written against the official SDK imports from ``uid2_client`` (sdk.md §1)
OFFICIAL_NAMES = {
    "AdvertisingTokenVersion",
    "BidstreamClient",
    "ClientType",
    "DecryptedToken",
    "DecryptionStatus",
    "EncryptionDataResponse",
    "EncryptionError",
    "EncryptionStatus",
    "EuidClientFactory",
    "IdentityBucketsResponse",
    "IdentityMapClient",
    "IdentityMapInput",
    "IdentityMapResponse",
    "IdentityMapV3Client",
    "IdentityMapV3Input",
    "IdentityMapV3Response",
    "IdentityScope",
    "IdentityTokens",
    "IdentityType",
    "MappedIdentity",
    "RefreshResponse",
    "SharingClient",
    "TokenGenerateInput",
    "TokenGenerateResponse",
    "TokenRefreshResponse",
    "Uid2Client",
    "Uid2ClientFactory",
    "Uid2PublisherClient",
    "UnmappedIdentity",
    "UnmappedIdentityReason",
    "normalize_and_hash_email",
    "normalize_and_hash_phone",
}


def test_all_is_sorted_and_complete() -> None:
    assert uid2.__all__ == sorted(uid2.__all__)
    public = {
        n for n, v in vars(uid2).items() if not n.startswith("_") and not isinstance(v, ModuleType)
    }
    assert set(uid2.__all__) - {"__version__"} == public


def test_official_names_are_importable() -> None:
    missing = OFFICIAL_NAMES - set(uid2.__all__)
    assert not missing


def test_enum_values_match_the_official_sdk() -> None:
    assert uid2.DecryptionStatus.EXPIRED_TOKEN.value == "token expired"
    assert uid2.EncryptionStatus.NOT_AUTHORIZED_FOR_KEY.value == "No Keyset Key Found"
    assert uid2.IdentityType.Phone == 1 and uid2.AdvertisingTokenVersion.ADVERTISING_TOKEN_V4 == 128


def test_importing_uid2_loads_no_server_dependencies() -> None:
    code = (
        "import sys, uid2; bad = [m for m in ('sqlalchemy', 'starlette', 'uvicorn', 'alembic') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
