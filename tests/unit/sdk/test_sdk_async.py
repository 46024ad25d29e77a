from __future__ import annotations

import asyncio
import json

from fake_operator import CREDENTIALS, NO_WAIT, FakeOperator, sharing_body

from uid2 import (
    AsyncBidstreamClient,
    AsyncIdentityMapClient,
    AsyncIdentityMapV3Client,
    AsyncSharingClient,
    AsyncUid2PublisherClient,
    DecryptionStatus,
    IdentityMapInput,
    IdentityMapV3Input,
    TokenGenerateInput,
)


def options(operator: FakeOperator) -> dict[str, object]:
    return {"transport": operator.async_transport(), "http_settings": NO_WAIT}


def test_async_publisher_generate_and_refresh() -> None:
    async def scenario() -> None:
        operator = FakeOperator()
        client = AsyncUid2PublisherClient(*CREDENTIALS, **options(operator))  # type: ignore[arg-type]
        identity = (
            await client.generate_token(TokenGenerateInput.from_email("a@b.com"))
        ).get_identity()
        assert identity is not None
        assert (await client.refresh_token(identity)).is_success()
        await client.aclose()

    asyncio.run(scenario())


def test_async_key_clients_decrypt_and_refresh_on_demand() -> None:
    async def scenario() -> None:
        operator = FakeOperator()
        publisher = AsyncUid2PublisherClient(*CREDENTIALS, **options(operator))  # type: ignore[arg-type]
        token = (
            await publisher.generate_token(TokenGenerateInput.from_email("a@b.com"))
        ).get_identity()
        bidstream = AsyncBidstreamClient(*CREDENTIALS, on_demand_interval=0.0, **options(operator))  # type: ignore[arg-type]
        assert (await bidstream.refresh()).success
        assert bidstream.decrypt_token_into_raw_uid(token.get_advertising_token(), None).success  # type: ignore[union-attr,arg-type]
        sharing = AsyncSharingClient(*CREDENTIALS, on_demand_interval=0.0, **options(operator))  # type: ignore[arg-type]
        sharing.refresh_json('{"body": {"keys": []}}')
        sharing._holder.mark_success()
        calls = len(operator.calls)
        result = sharing.decrypt_token_into_raw_uid(token.get_advertising_token())  # type: ignore[union-attr,arg-type]
        assert result.status is DecryptionStatus.KEYS_NOT_SYNCED
        await asyncio.sleep(0.05)  # the on-demand refresh ran in the background
        assert len(operator.calls) == calls + 1
        assert sharing.decrypt_token_into_raw_uid(token.get_advertising_token()).success  # type: ignore[union-attr,arg-type]
        await asyncio.gather(publisher.aclose(), bidstream.aclose(), sharing.aclose())

    asyncio.run(scenario())


def test_async_identity_maps() -> None:
    async def scenario() -> None:
        operator = FakeOperator()
        v2 = AsyncIdentityMapClient(*CREDENTIALS, **options(operator))  # type: ignore[arg-type]
        v3 = AsyncIdentityMapV3Client(*CREDENTIALS, **options(operator))  # type: ignore[arg-type]
        assert (
            "a@b.com"
            in (
                await v2.generate_identity_map(IdentityMapInput.from_emails(["a@b.com"]))
            ).mapped_identities
        )
        assert (
            "a@b.com"
            in (
                await v3.generate_identity_map(IdentityMapV3Input.from_emails(["a@b.com"]))
            ).mapped_identities
        )
        await v2.aclose()
        await v3.aclose()

    asyncio.run(scenario())


def test_async_sharing_encrypts() -> None:
    client = AsyncSharingClient(*CREDENTIALS)
    client.refresh_json(json.dumps({"body": sharing_body()}))
    assert client.encrypt_raw_uid_into_token("ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM=").success
