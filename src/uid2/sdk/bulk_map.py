"""Mapping a file of emails/phones to raw UID2s in batches (the engine of ``uid2 map``).

Input rows are read lazily and sent ``batch_size`` at a time (5,000 by default, the documented
maximum) through ``/v3/identity/map`` (raw UID2s, previous UID2s and refresh times) or
``/v2/identity/map`` (raw UID2s and salt-bucket ids), with up to ``parallelism`` requests in
flight. 429s and
5xx are retried with backoff by the HTTP layer. Results are written in input order. DII that
cannot be normalised is reported as ``invalid identifier`` without being sent.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from itertools import islice
from typing import IO

from uid2.core.dii import normalize_and_hash_email, normalize_and_hash_phone
from uid2.core.enums import IdentityType
from uid2.sdk.identity_map import IdentityMapClient, IdentityMapV3Client
from uid2.sdk.identity_map_results import MappedIdentityV3
from uid2.sdk.inputs import IdentityMapInput, IdentityMapV3Input

DEFAULT_BATCH_SIZE = 5000
DEFAULT_PARALLELISM = 4
OUTPUT_COLUMNS = (
    "input",
    "type",
    "raw_uid2",
    "bucket_id",
    "previous_raw_uid2",
    "refresh_from",
    "unmapped_reason",
)


class DiiColumn(Enum):
    EMAIL = "email"
    PHONE = "phone"
    EMAIL_HASH = "email_hash"
    PHONE_HASH = "phone_hash"


@dataclass(frozen=True, slots=True)
class InputRow:
    kind: DiiColumn
    value: str


@dataclass(frozen=True, slots=True)
class OutputRow:
    row: InputRow
    raw_uid2: str = ""
    bucket_id: str = ""  # /v2/identity/map only
    previous_raw_uid2: str = ""  # /v3/identity/map only, as refresh_from
    refresh_from: str = ""
    unmapped_reason: str = ""

    def as_csv(self) -> tuple[str, ...]:
        return (
            self.row.value,
            self.row.kind.value,
            self.raw_uid2,
            self.bucket_id,
            self.previous_raw_uid2,
            self.refresh_from,
            self.unmapped_reason,
        )


def read_rows(stream: IO[str]) -> Iterator[InputRow]:
    """Rows from a CSV with a header naming one of email/phone/email_hash/phone_hash, or a
    single unnamed column where values with an ``@`` are emails and others phones."""
    reader = csv.reader(stream)
    first = next(reader, None)
    if first is None:
        return
    names = [c.strip().lower() for c in first]
    column = next((i for i, n in enumerate(names) if n in DiiColumn._value2member_map_), None)
    if column is None:
        yield from _guessed(first)
        for record in reader:
            yield from _guessed(record)
        return
    kind = DiiColumn(names[column])
    for record in reader:
        if len(record) > column and record[column].strip():
            yield InputRow(kind, record[column].strip())


def _guessed(record: list[str]) -> Iterator[InputRow]:
    if record and record[0].strip():
        value = record[0].strip()
        yield InputRow(DiiColumn.EMAIL if "@" in value else DiiColumn.PHONE, value)


def _add(request: IdentityMapV3Input, row: InputRow) -> bool:
    add: dict[DiiColumn, Callable[[str], IdentityMapV3Input]] = {
        DiiColumn.EMAIL: request.with_email,
        DiiColumn.PHONE: request.with_phone,
        DiiColumn.EMAIL_HASH: request.with_hashed_email,
        DiiColumn.PHONE_HASH: request.with_hashed_phone,
    }
    try:
        add[row.kind](row.value)
    except ValueError:
        return False
    return True


Mapper = Callable[[list[InputRow]], list[OutputRow]]


def v3_mapper(client: IdentityMapV3Client) -> Mapper:
    """One ``/v3/identity/map`` request per batch: raw UID2, previous UID2, refresh time."""

    def map_batch(rows: list[InputRow]) -> list[OutputRow]:
        request = IdentityMapV3Input()
        valid = [_add(request, row) for row in rows]
        response = client.generate_identity_map(request)
        mapped, unmapped = response.mapped_identities, response.unmapped_identities
        return [_result(row, ok, mapped, unmapped) for row, ok in zip(rows, valid, strict=True)]

    return map_batch


# v2 takes one identity type per request: rows are hashed here, once, and sent as hashes
_V2_TYPES: dict[DiiColumn, tuple[IdentityType, Callable[[str], str] | None]] = {
    DiiColumn.EMAIL: (IdentityType.Email, normalize_and_hash_email),
    DiiColumn.EMAIL_HASH: (IdentityType.Email, None),
    DiiColumn.PHONE: (IdentityType.Phone, normalize_and_hash_phone),
    DiiColumn.PHONE_HASH: (IdentityType.Phone, None),
}
_V2_INPUTS: dict[IdentityType, Callable[[list[str]], IdentityMapInput]] = {
    IdentityType.Email: IdentityMapInput.from_hashed_emails,
    IdentityType.Phone: IdentityMapInput.from_hashed_phones,
}


def _v2_hash(row: InputRow) -> str | None:
    """The hash v2 sends for a row; None if the email or phone is not valid."""
    hasher = _V2_TYPES[row.kind][1]
    if hasher is None:
        return row.value
    try:
        return hasher(row.value)
    except ValueError:
        return None


def v2_mapper(client: IdentityMapClient) -> Mapper:
    """``/v2/identity/map`` (one request per identity type in the batch): raw UID2 + bucket id."""

    def map_type(identity_type: IdentityType, rows: list[InputRow]) -> list[OutputRow]:
        hashes = [_v2_hash(row) for row in rows]
        sent = [h for h in hashes if h is not None]
        response = client.generate_identity_map(_V2_INPUTS[identity_type](sent)) if sent else None
        results = []
        for row, hashed in zip(rows, hashes, strict=True):
            hit = response.mapped_identities.get(hashed) if response and hashed else None
            miss = response.unmapped_identities.get(hashed) if response and hashed else None
            if hit is not None:
                results.append(OutputRow(row, hit.get_raw_uid(), hit.get_bucket_id()))
            else:
                reason = miss.get_reason() if miss else "invalid identifier"
                results.append(OutputRow(row, unmapped_reason=reason))
        return results

    def map_batch(rows: list[InputRow]) -> list[OutputRow]:
        by_row: dict[int, OutputRow] = {}
        for identity_type in _V2_INPUTS:
            indexes = [i for i, r in enumerate(rows) if _V2_TYPES[r.kind][0] is identity_type]
            if indexes:
                mapped = map_type(identity_type, [rows[i] for i in indexes])
                by_row.update(zip(indexes, mapped, strict=True))
        return [by_row[i] for i in range(len(rows))]

    return map_batch


def _result(
    row: InputRow,
    valid: bool,
    mapped: Mapping[str, MappedIdentityV3],
    unmapped: Mapping[str, object],
) -> OutputRow:
    if not valid:
        return OutputRow(row, unmapped_reason="invalid identifier")
    hit = mapped.get(row.value)
    if hit is not None:
        return OutputRow(
            row, hit.current_raw_uid, hit.previous_raw_uid or "", hit.refresh_from.isoformat()
        )
    reason = unmapped.get(row.value)
    return OutputRow(row, unmapped_reason=getattr(reason, "raw_reason", "unknown"))


def _batches(rows: Iterable[InputRow], size: int) -> Iterator[list[InputRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def map_rows(
    map_batch: Mapper,
    rows: Iterable[InputRow],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    parallelism: int = DEFAULT_PARALLELISM,
    on_batch: Callable[[int], None] = lambda n: None,
) -> Iterator[OutputRow]:
    """Map every row, yielding results in input order; ``on_batch(n)`` after each batch."""
    if not 1 <= batch_size <= DEFAULT_BATCH_SIZE:
        raise ValueError(f"batch size must be between 1 and {DEFAULT_BATCH_SIZE}")
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        pending: list[Future[list[OutputRow]]] = []
        for batch in _batches(rows, batch_size):
            pending.append(pool.submit(map_batch, batch))
            if len(pending) >= parallelism * 2:  # bounded read-ahead
                yield from _drain_first(pending, on_batch)
        while pending:
            yield from _drain_first(pending, on_batch)


def _drain_first(
    pending: list[Future[list[OutputRow]]], on_batch: Callable[[int], None]
) -> Iterator[OutputRow]:
    results = pending.pop(0).result()
    on_batch(len(results))
    yield from results


def write_results(results: Iterable[OutputRow], stream: IO[str]) -> int:
    writer = csv.writer(stream)
    writer.writerow(OUTPUT_COLUMNS)
    count = 0
    for result in results:
        writer.writerow(result.as_csv())
        count += 1
    return count
