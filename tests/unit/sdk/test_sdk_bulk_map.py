from __future__ import annotations

import csv
import io

import pytest
from fake_operator import CREDENTIALS, NO_WAIT, FakeOperator, raw_uid_for

from uid2 import IdentityMapClient, IdentityMapV3Client
from uid2.core.dii import hash_dii
from uid2.core.encoding import b64encode
from uid2.sdk.bulk_map import (
    DiiColumn,
    InputRow,
    map_rows,
    read_rows,
    v2_mapper,
    v3_mapper,
    write_results,
)


def client(operator: FakeOperator):  # type: ignore[no-untyped-def]
    return v3_mapper(
        IdentityMapV3Client(*CREDENTIALS, transport=operator.transport(), http_settings=NO_WAIT)
    )


def test_reads_a_named_column_or_guesses_a_bare_one() -> None:
    named = list(read_rows(io.StringIO("id,Email\n1,a@b.com\n2,\n3,c@d.com\n")))
    assert named == [InputRow(DiiColumn.EMAIL, "a@b.com"), InputRow(DiiColumn.EMAIL, "c@d.com")]
    bare = list(read_rows(io.StringIO("a@b.com\n+12345678901\n")))
    assert [r.kind for r in bare] == [DiiColumn.EMAIL, DiiColumn.PHONE]


def test_maps_in_batches_in_parallel_keeping_input_order() -> None:
    operator = FakeOperator()
    emails = [f"user{i}@example.com" for i in range(23)] + ["optout@example.com", "bad@"]
    rows = [InputRow(DiiColumn.EMAIL, e) for e in emails]
    done: list[int] = []
    results = list(
        map_rows(client(operator), rows, batch_size=5, parallelism=3, on_batch=done.append)
    )
    assert [r.row.value for r in results] == emails
    assert sum(done) == len(emails) and len(done) == 5
    assert operator.calls.count("/v3/identity/map") == 5
    assert results[0].raw_uid2 == b64encode(raw_uid_for(hash_dii("user0@example.com")))
    assert (
        results[-2].unmapped_reason == "optout"
        and results[-1].unmapped_reason == "invalid identifier"
    )


def test_backs_off_on_429_and_finishes() -> None:
    operator = FakeOperator()
    operator.fail("/v3/identity/map", 429, 429)
    rows = [InputRow(DiiColumn.EMAIL, "a@b.com")]
    assert list(map_rows(client(operator), rows))[0].raw_uid2


def test_writes_a_csv_with_a_header() -> None:
    operator = FakeOperator()
    out = io.StringIO()
    count = write_results(
        map_rows(client(operator), [InputRow(DiiColumn.PHONE, "+12345678901")]), out
    )
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert count == 1 and lines[0][:3] == ["input", "type", "raw_uid2"] and lines[1][1] == "phone"


def test_rejects_oversized_batches() -> None:
    with pytest.raises(ValueError):
        list(map_rows(client(FakeOperator()), [], batch_size=5001))


def test_v2_gives_bucket_ids_for_mixed_kinds() -> None:
    operator = FakeOperator()
    mapper = v2_mapper(
        IdentityMapClient(*CREDENTIALS, transport=operator.transport(), http_settings=NO_WAIT)
    )
    rows = [
        InputRow(DiiColumn.EMAIL, "a@b.com"),
        InputRow(DiiColumn.PHONE, "+12345678901"),
        InputRow(DiiColumn.EMAIL, "optout@example.com"),
        InputRow(DiiColumn.PHONE, "12"),
    ]
    results = list(map_rows(mapper, rows))
    assert [r.bucket_id for r in results[:2]] == ["b1", "b1"]
    assert results[0].raw_uid2 == b64encode(raw_uid_for(hash_dii("a@b.com")))
    assert [r.unmapped_reason for r in results[2:]] == ["optout", "invalid identifier"]
    assert operator.calls.count("/v2/identity/map") == 2  # one request per kind
