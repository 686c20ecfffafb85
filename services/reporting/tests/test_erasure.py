"""StudentErased.v1: the student's masked name and number leave reporting's tables and inbox, a rebuild brings
them back nowhere, and every other figure stays."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.events.registry import StudentErasedV1
from bench.reporting import synthetic
from services.reporting.adapters.rebuild import rebuild
from services.reporting.tests.test_rebuild import snapshot

pytestmark = pytest.mark.integration


def masked_of(db, student_id: str) -> list[str]:
    """Every masked form reporting holds of a student: read models and inbox payloads."""
    with db.transaction() as conn:
        rows = conn.execute("SELECT name_masked, id_number_masked FROM students WHERE student_id = %s "
                            "UNION ALL SELECT name_masked, id_number_masked FROM findings WHERE student_id = %s",
                            (student_id, student_id)).fetchall()
        payloads = conn.execute("SELECT payload->>'name_masked' AS n, payload->>'id_number_masked' AS i FROM inbox "
                                "WHERE payload->>'student_id' = %s", (student_id,)).fetchall()
    values = [v for r in rows for v in (r["name_masked"], r["id_number_masked"])]
    values += [v for r in payloads for v in (r["n"], r["i"])]
    return [v for v in values if v not in (None, "*")]


def test_an_erased_student_leaves_no_masked_form_and_a_rebuild_restores_none(feed, reporting_db):
    feed.history(synthetic.history(seed=3, prefectures=1, counties=1, townships=2, schools=2, students=12))
    before = snapshot(reporting_db)
    student = next(r for r in before["students"] if r["name_masked"] not in (None, "*"))
    sid = student["student_id"]
    assert masked_of(reporting_db, sid)  # held before
    feed.deliver(StudentErasedV1(student_id=sid, township_code=student["township_code"],
                                 legal_basis="consent_withdrawn", erased_on=date(2025, 10, 1)))
    assert masked_of(reporting_db, sid) == []
    after = snapshot(reporting_db)
    for name, rows in before.items():  # every figure is what it was; only the student's masks changed
        if name not in ("students", "findings", "applied_positions"):
            assert after[name] == rows, name
    assert len(after["students"]) == len(before["students"]) and len(after["findings"]) == len(before["findings"])
    others = [r for r in after["students"] if r["student_id"] != sid]
    assert others == [r for r in before["students"] if r["student_id"] != sid]
    rebuild(reporting_db, show_progress=False)
    assert masked_of(reporting_db, sid) == []
    assert snapshot(reporting_db) == after
