"""Erasure in reporting: on `StudentErased.v1` the student's masked name and number leave every table and the inbox.

The inbox is reporting's own history (rebuilds, time travel and monthly restatements replay it), so its copies
of the registry's payloads are scrubbed in place (`"*"`, which the contracts still accept): a rebuild then ends
with nothing to restore. Ids, codes, dates and counts stay, so every figure is what it was.
"""

from __future__ import annotations

import psycopg

MASKED = ("name_masked", "id_number_masked")
TABLES = ("students", "findings")


def scrub(conn: psycopg.Connection, student_id: str) -> int:
    """Removes the student's masked forms from the read models and the inbox; returns inbox rows changed."""
    for table in TABLES:
        conn.execute(f"UPDATE {table} SET name_masked = '*', id_number_masked = NULL WHERE student_id = %s",
                     (student_id,))
    changed = 0
    for field in MASKED:
        changed += conn.execute(
            "UPDATE inbox SET payload = jsonb_set(payload, %s, '\"*\"') "
            "WHERE payload->>'student_id' = %s AND payload ? %s AND payload->>%s <> '*'",
            ([field], student_id, field, field)).rowcount
    return changed
