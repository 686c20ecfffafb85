"""The lookup tables' upserts read a batch's rows from one JSON array (``batchrows.json_rows``) instead of binary
arrays: PostgreSQL reads the same values either way, odd texts, nulls, large numbers, booleans and times with
microseconds and offsets included, in the rows' order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import tuple_row

from services.runtime.batchrows import json_rows, rows_json
from services.runtime.testing import ODD_TEXTS

pytestmark = pytest.mark.integration
COLUMNS = ("k", "name", "grade", "version", "active", "at")
TYPES = ("text", "text", "int", "bigint", "boolean", "timestamptz")


def rows() -> list[tuple]:
    shanghai = timezone(timedelta(hours=8))
    out = []
    for n, text in enumerate((*ODD_TEXTS, "", "null", "[1,2]", '{"a": 1}', "\\u0041", "\u2028\u2029", "😀")):
        out.append((f"k{n}", text if n % 5 else None, None if n % 4 == 0 else n - 3, 2**62 + n, n % 2 == 0,
                    None if n % 6 == 0 else datetime(2026, 9, 1, 8, 30, n, 250 * n, tzinfo=timezone.utc if n % 2
                                                     else shanghai)))
    return out


def test_rows_read_from_the_json_array_equal_those_of_binary_arrays(database_url: str) -> None:
    given = rows()
    with psycopg.connect(database_url, row_factory=tuple_row) as conn:
        from_json = conn.execute(sql.SQL("SELECT * FROM {}").format(json_rows(COLUMNS, TYPES)),
                                 (rows_json(COLUMNS, given),)).fetchall()
        from_arrays = conn.execute(
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::bigint[], %b::boolean[], %b::timestamptz[])",
            [list(c) for c in zip(*given)]).fetchall()
    assert from_json == from_arrays
    assert [r[0] for r in from_json] == [r[0] for r in given]  # in the array's order
    assert from_json[1][5] == given[1][5] and from_json[2][5] == given[2][5]  # the instant, to the microsecond
