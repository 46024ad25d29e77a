"""Re-encrypt every sealed column under a new KEK (``uid2 kek rotate``)."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Table, select, update

from uid2.store._codec import secret_context
from uid2.store.schema import client_keys, cstg_keypairs, keyset_keys, salt_buckets, salt_config
from uid2.store.secrets import SecretBox

# (table, primary-key column, sealed column): every ciphertext the schema holds.
SEALED_COLUMNS: tuple[tuple[Table, Column[object], Column[bytes]], ...] = (
    (client_keys, client_keys.c.key_id, client_keys.c.secret_enc),
    (keyset_keys, keyset_keys.c.key_id, keyset_keys.c.secret_enc),
    (cstg_keypairs, cstg_keypairs.c.subscription_id, cstg_keypairs.c.private_key_enc),
    (salt_config, salt_config.c.id, salt_config.c.first_level_enc),
    (salt_config, salt_config.c.id, salt_config.c.id_secret_enc),
    (salt_buckets, salt_buckets.c.bucket_index, salt_buckets.c.current_salt_enc),
    (salt_buckets, salt_buckets.c.bucket_index, salt_buckets.c.previous_salt_enc),
)


def reseal_all(connection: Connection, old: SecretBox, new: SecretBox) -> int:
    """Open each sealed cell with ``old`` and seal it with ``new``; returns the cell count."""
    count = 0
    for table, key_column, sealed_column in SEALED_COLUMNS:
        rows = connection.execute(select(key_column, sealed_column)).all()
        for row_id, sealed in rows:
            if sealed is None:
                continue
            context = secret_context(table, sealed_column, row_id)
            resealed = new.seal(old.open(sealed, context), context)
            query = update(table).where(key_column == row_id).values({sealed_column: resealed})
            connection.execute(query)
            count += 1
    return count
