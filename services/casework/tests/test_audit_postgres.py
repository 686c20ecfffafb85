"""Auditors on PostgreSQL: history as of any moment, and an edit made behind the system's back is named."""

import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from services.casework.application.audit import verify_case, verify_store
from services.casework.tests.builders import MONDAY, acting, opened_case, proof
from services.casework.tests.stories import unique_county

pytestmark = pytest.mark.integration


def test_someone_edits_a_stored_home_visit_in_postgresql_and_verification_names_the_case_and_event(
        pg_app, casework_settings):
    township = unique_county() + "001"
    case = opened_case(pg_app, township_code=township)
    teacher = acting("head_teacher", MONDAY)
    pg_app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="外出打工", meta=teacher)
    pg_app.cases.act(case.id, "record_home_visit", record_id="v1", visited_at=MONDAY, visitors=["ht-1"], met=["父亲"],
               findings="父亲拒绝孩子返校", evidence=[proof()], meta=teacher)
    pg_app.cases.act(case.id, "record_persuasion", record_id="p1", method="home_visit", outcome="refused",
               note="第一次劝返未果", meta=teacher)
    before = verify_store(pg_app)
    assert before.intact and verify_case(pg_app, case.id).intact

    with psycopg.connect(casework_settings.database_url, autocommit=True) as conn:
        edited = conn.execute(
            "UPDATE casework.casework_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            "'父亲拒绝孩子返校', '父亲同意孩子返校'), 'UTF8') WHERE originator_id = %s AND topic LIKE %s",
            (case.id, "%HomeVisitRecorded"),
        ).rowcount
    assert edited == 1

    [problem] = verify_case(pg_app, case.id).problems
    assert (problem.case_id, problem.version, problem.event, problem.problem) == (
        str(case.id), 3, "HomeVisitRecorded", "content_changed")
    after = verify_store(pg_app)
    assert [(p.case_id, p.event) for p in after.problems] == [(str(case.id), "HomeVisitRecorded")]
    assert after.cases == before.cases and after.digest == before.digest  # seals untouched: the digest still agrees


def test_rewriting_the_seals_too_changes_the_store_digest_an_auditor_kept(pg_app, casework_settings):
    case = opened_case(pg_app, township_code=unique_county() + "001")
    kept = verify_store(pg_app).digest
    with psycopg.connect(casework_settings.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE casework.casework_events SET state = convert_to(regexp_replace(convert_from(state, 'UTF8'), "
            "'\"chain\": ?\"[0-9a-f]{64}\"', '\"chain\":\"' || repeat('f', 64) || '\"'), 'UTF8') "
            "WHERE originator_id = %s", (case.id,))
    assert verify_store(pg_app).digest != kept


def test_a_case_reads_as_it_was_at_any_past_version_or_moment(pg_app):
    case = opened_case(pg_app, township_code=unique_county() + "001")
    opened_version = pg_app.queries.case(case.id).version
    between = datetime.now(UTC)
    pg_app.cases.act(case.id, "confirm_dropout", causes=["poverty"], cause_analysis="贫困", meta=acting("head_teacher", MONDAY))
    assert pg_app.queries.case_as_of(case.id, version=opened_version).stage == "suspected"
    assert pg_app.queries.case_as_of(case.id, at=between).stage == "suspected"
    assert pg_app.queries.case_as_of(case.id, at=datetime.now(UTC)).stage == "persuading"
    assert uuid.UUID(str(case.id))
