# Server-side publisher integration, as the UID2 SDK for Python reference describes it:
# generate a token for an email, keep the identity as JSON, refresh it when due.
import os

from uid2_client import IdentityTokens, TokenGenerateInput, Uid2PublisherClient

client = Uid2PublisherClient(
    os.environ["UID2_BASE_URL"], os.environ["UID2_API_KEY"], os.environ["UID2_SECRET_KEY"]
)
response = client.generate_token(TokenGenerateInput.from_email("user@example.com"))
assert response.is_success() and not response.is_optout()
stored = response.get_identity_json_string()

identity = IdentityTokens.from_json_string(stored)
assert identity.get_advertising_token()
assert not identity.is_due_for_refresh()
assert identity.is_refreshable()
refreshed = client.refresh_token(identity)
assert refreshed.is_success()
new_identity = refreshed.get_identity()
assert new_identity.get_refresh_token() != identity.get_refresh_token()

optout = client.generate_token(TokenGenerateInput.from_email("optout@example.com"))
assert optout.is_optout() and optout.get_identity() is None
RESULT = new_identity.get_advertising_token()
