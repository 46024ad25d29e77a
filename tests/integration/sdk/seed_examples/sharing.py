# Sharing: encrypt a raw UID2 into a token for a receiver, and decrypt one received.
import os

from uid2_client import SharingClient

client = SharingClient(
    os.environ["UID2_BASE_URL"], os.environ["UID2_API_KEY"], os.environ["UID2_SECRET_KEY"]
)
assert client.refresh().success
encrypted = client.encrypt_raw_uid_into_token(os.environ["UID2_RAW_UID"])
assert encrypted.success
decrypted = client.decrypt_token_into_raw_uid(encrypted.encrypted_data)
assert decrypted.success and decrypted.uid == os.environ["UID2_RAW_UID"]
RESULT = decrypted.uid
