"""uid2.sdk: the Python SDK (HTTP clients over :mod:`uid2.core`).

Everything public is re-exported from the package root: ``from uid2 import BidstreamClient``.
"""

from __future__ import annotations

from uid2.core.dii import normalize_and_hash_email as normalize_and_hash_email
from uid2.core.dii import normalize_and_hash_phone as normalize_and_hash_phone
from uid2.core.enums import AdvertisingTokenVersion as AdvertisingTokenVersion
from uid2.core.enums import ClientType as ClientType
from uid2.core.enums import DecryptionStatus as DecryptionStatus
from uid2.core.enums import EncryptionStatus as EncryptionStatus
from uid2.core.enums import IdentityScope as IdentityScope
from uid2.core.enums import IdentityType as IdentityType
from uid2.core.keys import Key as Key
from uid2.core.keys import Keyring as Keyring
from uid2.sdk.async_clients import AsyncBidstreamClient as AsyncBidstreamClient
from uid2.sdk.async_clients import AsyncIdentityMapClient as AsyncIdentityMapClient
from uid2.sdk.async_clients import AsyncIdentityMapV3Client as AsyncIdentityMapV3Client
from uid2.sdk.async_clients import AsyncSharingClient as AsyncSharingClient
from uid2.sdk.async_clients import AsyncUid2PublisherClient as AsyncUid2PublisherClient
from uid2.sdk.errors import EncryptionError as EncryptionError
from uid2.sdk.errors import OperatorError as OperatorError
from uid2.sdk.errors import ResponseError as ResponseError
from uid2.sdk.errors import TransportError as TransportError
from uid2.sdk.errors import Uid2Error as Uid2Error
from uid2.sdk.errors import Uid2TimeoutError as Uid2TimeoutError
from uid2.sdk.http import HttpSettings as HttpSettings
from uid2.sdk.http import RetryPolicy as RetryPolicy
from uid2.sdk.identity_map import IdentityMapClient as IdentityMapClient
from uid2.sdk.identity_map import IdentityMapV3Client as IdentityMapV3Client
from uid2.sdk.identity_map_results import Bucket as Bucket
from uid2.sdk.identity_map_results import IdentityBucketsResponse as IdentityBucketsResponse
from uid2.sdk.identity_map_results import IdentityMapResponse as IdentityMapResponse
from uid2.sdk.identity_map_results import IdentityMapV3Response as IdentityMapV3Response
from uid2.sdk.identity_map_results import MappedIdentityV3 as MappedIdentity
from uid2.sdk.identity_map_results import UnmappedIdentityReason as UnmappedIdentityReason
from uid2.sdk.identity_map_results import UnmappedIdentityV3 as UnmappedIdentity
from uid2.sdk.identity_tokens import IdentityTokens as IdentityTokens
from uid2.sdk.inputs import IdentityMapInput as IdentityMapInput
from uid2.sdk.inputs import IdentityMapV3Input as IdentityMapV3Input
from uid2.sdk.inputs import TokenGenerateInput as TokenGenerateInput
from uid2.sdk.key_clients import BidstreamClient as BidstreamClient
from uid2.sdk.key_clients import SharingClient as SharingClient
from uid2.sdk.legacy import EuidClientFactory as EuidClientFactory
from uid2.sdk.legacy import Uid2Client as Uid2Client
from uid2.sdk.legacy import Uid2ClientFactory as Uid2ClientFactory
from uid2.sdk.optout_status import OptOutStatusClient as OptOutStatusClient
from uid2.sdk.pixels import CreativeUrl as CreativeUrl
from uid2.sdk.pixels import creative_pixel_url as creative_pixel_url
from uid2.sdk.pixels import creative_pixel_urls as creative_pixel_urls
from uid2.sdk.pixels import tracking_pixel_url as tracking_pixel_url
from uid2.sdk.pixels import tracking_pixel_url_for as tracking_pixel_url_for
from uid2.sdk.publisher import Uid2PublisherClient as Uid2PublisherClient
from uid2.sdk.publisher_responses import TokenGenerateResponse as TokenGenerateResponse
from uid2.sdk.publisher_responses import TokenRefreshResponse as TokenRefreshResponse
from uid2.sdk.results import DecryptedToken as DecryptedToken
from uid2.sdk.results import EncryptionDataResponse as EncryptionDataResponse
from uid2.sdk.results import RefreshResponse as RefreshResponse

__all__ = [
    "AdvertisingTokenVersion",
    "AsyncBidstreamClient",
    "AsyncIdentityMapClient",
    "AsyncIdentityMapV3Client",
    "AsyncSharingClient",
    "AsyncUid2PublisherClient",
    "BidstreamClient",
    "Bucket",
    "ClientType",
    "CreativeUrl",
    "DecryptedToken",
    "DecryptionStatus",
    "EncryptionDataResponse",
    "EncryptionError",
    "EncryptionStatus",
    "EuidClientFactory",
    "HttpSettings",
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
    "Key",
    "Keyring",
    "MappedIdentity",
    "OperatorError",
    "OptOutStatusClient",
    "RefreshResponse",
    "ResponseError",
    "RetryPolicy",
    "SharingClient",
    "TokenGenerateInput",
    "TokenGenerateResponse",
    "TokenRefreshResponse",
    "TransportError",
    "Uid2Client",
    "Uid2ClientFactory",
    "Uid2Error",
    "Uid2PublisherClient",
    "Uid2TimeoutError",
    "UnmappedIdentity",
    "UnmappedIdentityReason",
    "creative_pixel_url",
    "creative_pixel_urls",
    "normalize_and_hash_email",
    "normalize_and_hash_phone",
    "tracking_pixel_url",
    "tracking_pixel_url_for",
]
