"""Rebuild: dropping every projection and replaying the inbox gives exactly the live projections."""

from __future__ import annotations

import pytest

from bench.reporting import synthetic
from services.reporting.adapters import projections
from services.reporting.adapters.rebuild import rebuild

pytestmark = pytest.mark.integration


def snapshot(db) -> dict[str, list[dict]]:
    tables = {}
    with db.transaction() as conn:
        for t in projections.READ_MODELS:
            tables[t.name] = conn.execute(f"SELECT * FROM {t.name} ORDER BY {', '.join(t.key)}").fetchall()
    return tables


def test_a_rebuild_from_the_inbox_equals_the_live_projections(feed, reporting_db):
    feed.history(synthetic.history(seed=3, prefectures=2, counties=2, townships=2, schools=2, students=12))
    live = snapshot(reporting_db)
    assert len(live["ledger"]) > 20 and len(live["case_steps"]) > 50 and len(live["absences"]) > 40
    assert {r["status"] for r in live["ledger"]} >= {"suspected", "confirmed", "returned", "closed"}
    assert len(live["jurisdictions"]) == 1 + 2 + 4 + 8 and len(live["special_groups"]) > 5
    assert len(live["jurisdiction_names"]) == len(live["jurisdictions"]) + 4  # every county renamed one township
    assert {r["end_kind"] for r in live["jurisdictions"]} == {None, "merged"}

    result = rebuild(reporting_db, show_progress=False)

    assert result.events == sum(1 for _ in synthetic.history(seed=3, prefectures=2, counties=2, townships=2,
                                                             schools=2, students=12))
    rebuilt = snapshot(reporting_db)
    for name in live:
        assert rebuilt[name] == live[name], name


def test_a_retraction_delivered_before_the_absence_it_retracts_ends_the_same(feed, reporting_db):
    from contracts.events import AbsenceRecordedV1
    from contracts.events.attendance import AbsenceRetractedV1
    from datetime import date

    recorded = AbsenceRecordedV1(student_id="s1", school_id="k1", township_code="520102001", day=date(2025, 9, 8),
                                 consecutive_school_days=1)
    retracted = AbsenceRetractedV1(student_id="s1", school_id="k1", township_code="520102001", day=date(2025, 9, 8),
                                   reason="补请假")
    feed.deliver(retracted, sequence=20, subject="day-c")  # another aggregate, another partition: arrives first
    feed.deliver(recorded, sequence=10, subject="day-a")
    live = snapshot(reporting_db)["absences"]
    rebuild(reporting_db, show_progress=False)
    assert snapshot(reporting_db)["absences"] == live
    assert (live[0]["status"], live[0]["consecutive_school_days"]) == ("retracted", 1)
