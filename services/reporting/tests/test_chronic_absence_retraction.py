"""经常性缺勤 withdrawn: a ChronicAbsenceRetracted flag stops counting, live, in time travel and after a rebuild;
a database from before the retraction was handled applies the retractions its inbox already holds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from contracts.events.attendance import ChronicAbsenceFlaggedV1, ChronicAbsenceRetractedV1
from services.reporting.adapters import schema
from services.reporting.adapters.queries import ReportingQueries
from services.reporting.adapters.rebuild import rebuild
from services.reporting.tests.conftest import Feed
from services.reporting.tests.test_rebuild import snapshot
from services.runtime.clock import FixedClock
from services.runtime.consumer import OFFSETS_DDL
from services.runtime.db import Database
from services.runtime.scratchdb import fresh_database

pytestmark = pytest.mark.integration
TOWNSHIP = "520102001"
FLAGGED_AT = datetime(2025, 10, 20, 9, 0, tzinfo=timezone.utc)
RETRACTED_AT = datetime(2025, 10, 23, 9, 0, tzinfo=timezone.utc)
TERM = dict(term_start=date(2025, 9, 1), term_end=date(2026, 1, 16))
DAYS = [date(2025, 9, 1) + timedelta(days=i) for i in range(0, 12, 2)]


def flagged(flag_id: str, student_id: str) -> ChronicAbsenceFlaggedV1:
    return ChronicAbsenceFlaggedV1(flag_id=flag_id, student_id=student_id, school_id="k1", township_code=TOWNSHIP,
                                   term_school_days=60, absent_days=DAYS, rule="chronic_absence", rule_version=1,
                                   threshold_ratio=0.1, **TERM)


def retracted(flag_id: str, student_id: str) -> ChronicAbsenceRetractedV1:
    return ChronicAbsenceRetractedV1(flag_id=flag_id, student_id=student_id, school_id="k1", township_code=TOWNSHIP,
                                     corrected_day=DAYS[-1], absent_days=DAYS[:-1], threshold_days=6,
                                     reason="补录病假条", **TERM)


def open_flags(reporting_db, at: datetime | None = None) -> set[str]:
    queries = ReportingQueries(reporting_db, FixedClock(datetime(2026, 3, 1, tzinfo=timezone.utc)))
    with queries.view(at) as view:
        rows = view.conn.execute("SELECT flag_id FROM chronic_absences WHERE status = 'open'").fetchall()
    return {r["flag_id"] for r in rows}


def test_a_withdrawn_flag_stops_counting_from_its_retraction_live_in_time_travel_and_after_a_rebuild(
        feed, reporting_db):
    # Two children flagged in October; three days later a sick note brings one of them under the threshold.
    feed.deliver(flagged("chronic:s1:2025-09-01", "s1"), subject="s1", at=FLAGGED_AT)
    feed.deliver(flagged("chronic:s2:2025-09-01", "s2"), subject="s2", at=FLAGGED_AT)
    feed.deliver(retracted("chronic:s1:2025-09-01", "s1"), subject="s1", at=RETRACTED_AT)

    assert open_flags(reporting_db) == {"chronic:s2:2025-09-01"}
    live = {r["flag_id"]: r for r in snapshot(reporting_db)["chronic_absences"]}
    withdrawn = live["chronic:s1:2025-09-01"]
    assert (withdrawn["status"], withdrawn["resolved_day"], withdrawn["resolution"]) == (
        "retracted", DAYS[-1], "补录病假条")
    assert withdrawn["absent_days"] == len(DAYS) and withdrawn["term_school_days"] == 60  # the evidence it had

    # As of the day before the retraction both flags counted; from its recording on, only one does.
    assert open_flags(reporting_db, RETRACTED_AT - timedelta(days=1)) == {"chronic:s1:2025-09-01",
                                                                        "chronic:s2:2025-09-01"}
    assert open_flags(reporting_db, RETRACTED_AT + timedelta(seconds=1)) == {"chronic:s2:2025-09-01"}
    assert open_flags(reporting_db, FLAGGED_AT - timedelta(days=1)) == set()

    before = snapshot(reporting_db)
    rebuild(reporting_db, show_progress=False)
    assert snapshot(reporting_db) == before


def test_a_retraction_delivered_before_its_flag_ends_the_same_and_a_new_flag_of_the_term_counts_again(
        feed, reporting_db):
    # One aggregate publishes both, so they share a partition; were they ever in two, the later one first:
    feed.deliver(retracted("chronic:s3:2025-09-01", "s3"), sequence=20, subject="day-c")
    feed.deliver(flagged("chronic:s3:2025-09-01", "s3"), sequence=10, subject="day-a")
    row = snapshot(reporting_db)["chronic_absences"][0]
    assert (row["status"], row["term_school_days"], row["absent_days"]) == ("retracted", 60, len(DAYS))
    feed.deliver(flagged("chronic:s3:2025-09-01:1", "s3"), sequence=30, subject="s3")  # absent again: flagged anew
    assert open_flags(reporting_db) == {"chronic:s3:2025-09-01:1"}
    live = snapshot(reporting_db)
    rebuild(reporting_db, show_progress=False)
    assert snapshot(reporting_db) == live


def test_a_database_from_before_retractions_were_handled_applies_those_its_inbox_holds(database_url):
    # An old-DDL database (no version table: the repair runs at start), so a database of its own, never the shared
    # schema another test may have migrated (a versioned schema runs no old DDL at start).
    with fresh_database(database_url, "rep_old") as url:
        reporting_db = Database(url, "reporting")
        try:
            schema.install(reporting_db)
            reporting_db.execute_script(OFFSETS_DDL)
            feed = Feed(reporting_db)
            feed.deliver(flagged("chronic:s4:2025-09-01", "s4"), subject="s4", at=FLAGGED_AT)
            feed.deliver(flagged("chronic:s5:2025-09-01", "s5"), subject="s5", at=FLAGGED_AT)
            feed.deliver(retracted("chronic:s4:2025-09-01", "s4"), subject="s4", at=RETRACTED_AT)
            expected = snapshot(reporting_db)["chronic_absences"]
            try:
                with reporting_db.transaction() as conn:  # the old shape: no status, the retraction only in the inbox
                    conn.execute("ALTER TABLE chronic_absences DROP COLUMN status, DROP COLUMN resolved_day, "
                                 "DROP COLUMN resolution")
                    conn.execute("UPDATE chronic_absences SET last_sequence = 1 WHERE flag_id = 'chronic:s4:2025-09-01'")
            finally:
                schema.install(reporting_db)  # what every reporting process runs at start
            assert snapshot(reporting_db)["chronic_absences"] == expected
            schema.install(reporting_db)  # once only: a second start changes nothing
            assert snapshot(reporting_db)["chronic_absences"] == expected
        finally:
            reporting_db.close()
