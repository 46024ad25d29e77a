# Advertisers and data providers: map emails and phones to raw UID2s (identity map v3).
import os

from uid2_client import IdentityMapV3Client, IdentityMapV3Input, UnmappedIdentityReason

client = IdentityMapV3Client(
    os.environ["UID2_BASE_URL"], os.environ["UID2_API_KEY"], os.environ["UID2_SECRET_KEY"]
)
request = IdentityMapV3Input.from_emails(["user@example.com", "optout@example.com"]).with_phone(
    "+12345678901"
)
response = client.generate_identity_map(request)
mapped = response.mapped_identities
assert mapped["user@example.com"].current_raw_uid
assert mapped["+12345678901"].refresh_from is not None
unmapped = response.unmapped_identities
assert unmapped["optout@example.com"].reason == UnmappedIdentityReason.OPTOUT
RESULT = mapped["user@example.com"].current_raw_uid
