# Identity map v2 with salt buckets.
import os
from datetime import UTC, datetime

from uid2_client import IdentityMapClient, IdentityMapInput

client = IdentityMapClient(
    os.environ["UID2_BASE_URL"], os.environ["UID2_API_KEY"], os.environ["UID2_SECRET_KEY"]
)
response = client.generate_identity_map(
    IdentityMapInput.from_emails(["user@example.com", "optout@example.com"])
)
mapped = response.mapped_identities["user@example.com"]
assert mapped.get_raw_uid() and mapped.get_bucket_id()
assert response.unmapped_identities["optout@example.com"].get_reason() == "optout"
buckets = client.get_identity_buckets(datetime(2024, 1, 1, tzinfo=UTC)).buckets
assert buckets and buckets[0].get_bucket_id()
RESULT = mapped.get_raw_uid()
