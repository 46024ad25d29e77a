# DSP integration: refresh the bidstream keys, then decrypt a token from a bid request.
import os

from uid2_client import BidstreamClient, DecryptionStatus

client = BidstreamClient(
    os.environ["UID2_BASE_URL"], os.environ["UID2_API_KEY"], os.environ["UID2_SECRET_KEY"]
)
refresh_response = client.refresh()
assert refresh_response.success

decrypted = client.decrypt_token_into_raw_uid(os.environ["UID2_TOKEN"], "example.com")
assert decrypted.status == DecryptionStatus.SUCCESS and decrypted.success
RESULT = decrypted.uid
