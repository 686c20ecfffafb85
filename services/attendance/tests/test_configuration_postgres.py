"""Issue 4's gaps on PostgreSQL: cut-offs per county, calendar files (upload and CLI), one rate limit for all workers."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.attendance.entrypoints.api.app import create_app
from services.attendance.bootstrap import application
from services.attendance.bootstrap import cli
from services.attendance.adapters.ratelimit import RateLimited, SharedTokenBuckets
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.test_postgres import (
    COUNTY,
    MON,
    STAFF,
    checkins,
    new_school,
)
from services.runtime.bootstrap import build_runtime
from services.runtime.clock import CHINA, FixedClock
from services.runtime.consumer import OFFSETS_DDL
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
FILE_COUNTY = "520104"  # a county of its own: its calendar changes nothing for the other tests
FILE_OFFICER = auth("county_officer", FILE_COUNTY, user_id="officer-file")
CSV = "kind,start,end,name\nterm,2025-09-01,2026-01-16,秋季学期\nholiday,2025-10-01,2025-10-08,国庆\nmakeup,2025-09-28,,调休\n"


@pytest.fixture(scope="module")
def service(database_url):
    settings = AttendanceSettings(database_url=database_url, env="test", ingest_rate_per_s=10_000, ingest_burst=10_000, config_ttl_s=0)
    runtime = build_runtime("attendance", "api", settings, clock=FixedClock(datetime(2025, 9, 22, 20, 0, tzinfo=CHINA)))
    app = application(runtime, settings)
    runtime.db.execute_script(OFFSETS_DDL)
    with TestClient(create_app(runtime, app)) as client:
        yield runtime, app, client
    runtime.close()


@pytest.fixture
def client(service) -> TestClient:
    return service[2]


# -- the cut-off is county configuration ---------------------------------------------------------
def test_a_county_officer_sets_the_cut_off_and_each_change_is_a_new_version(client):
    officer = auth("county_officer", "520105", user_id="officer-5")
    assert client.get("/v1/counties/520105/day-close", headers=officer).json() == {
        "county_code": "520105", "version": 1, "cutoff": "18:00"
    }
    first = client.put("/v1/counties/520105/day-close", json={"cutoff": "16:30"}, headers=officer)
    second = client.put("/v1/counties/520105/day-close", json={"cutoff": "17:00"}, headers=officer)
    assert (first.json()["version"], second.json()["version"]) == (2, 3)
    assert client.get("/v1/counties/520105/day-close", headers=officer).json()["cutoff"] == "17:00"
    assert client.put("/v1/counties/520105/day-close", json={"cutoff": "25:00"}, headers=officer).status_code == 422
    assert client.put("/v1/counties/520105/day-close", json={"cutoff": "16:00"}, headers=STAFF).status_code == 403
    other = auth("county_officer", "520106")
    assert client.put("/v1/counties/520105/day-close", json={"cutoff": "16:00"}, headers=other).status_code == 403


def test_the_scheduler_closes_a_county_on_postgres_and_records_its_progress(service):
    app = service[1]
    school_id, _ = new_school(service)
    schools = [app.school(school_id)]
    run = app.day_close.close_county(COUNTY, schools, date(2025, 9, 21))
    again = app.day_close.close_county(COUNTY, schools, date(2025, 9, 21))
    assert (run.days, run.schools, again.schools) == ([date(2025, 9, 22)], 1, 0)
    assert app.day_summary(school_id, date(2025, 9, 22)).absent == 3
    assert app.store.day_close_progress()[COUNTY] == date(2025, 9, 22)
    app.store.advance_day_close(COUNTY, date(2025, 9, 1))  # progress never moves back
    app.store.advance_day_close(COUNTY, date(2025, 9, 1), only_if_new=True)
    assert app.store.day_close_progress()[COUNTY] == date(2025, 9, 22)


# -- a calendar from a file ----------------------------------------------------------------------
def test_a_county_officer_uploads_a_csv_calendar(client):
    files = {"file": ("校历.csv", CSV.encode("gb18030"), "text/csv")}
    response = client.post(f"/v1/counties/{FILE_COUNTY}/calendar/import", files=files, headers=FILE_OFFICER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["terms"] == [{"name": "秋季学期", "start": "2025-09-01", "end": "2026-01-16"}]
    assert "2025-10-05" in body["holidays"] and body["makeup_days"] == ["2025-09-28"]
    shown = client.get(f"/v1/counties/{FILE_COUNTY}/calendar", headers=FILE_OFFICER).json()
    assert shown["version"] == body["version"] >= 1


def test_a_calendar_file_with_bad_rows_is_refused_whole_naming_each_row(client):
    before = client.get(f"/v1/counties/{FILE_COUNTY}/calendar", headers=FILE_OFFICER).json()
    bad = "kind,start,end,name\nterm,2025-09-01,,秋\nholiday,2025-10-01,2025-09-08,国庆\nvacation,2025-01-01,,\n"
    response = client.post(f"/v1/counties/{FILE_COUNTY}/calendar/import", files={"file": ("c.csv", bad.encode())}, headers=FILE_OFFICER)
    assert response.status_code == 422 and response.json()["detail"]["code"] == "calendar_rejected"
    assert [(e["line"], e["code"]) for e in response.json()["detail"]["errors"]] == [
        (2, "term_end_missing"), (3, "end_before_start"), (4, "invalid_kind")
    ]
    assert client.get(f"/v1/counties/{FILE_COUNTY}/calendar", headers=FILE_OFFICER).json() == before


def test_a_json_calendar_as_the_raw_body_and_malformed_uploads_get_a_4xx(client):
    url = f"/v1/counties/{FILE_COUNTY}/calendar/import"
    body = json.dumps({"terms": [{"name": "春季学期", "start": "2026-03-02", "end": "2026-07-10"}], "holidays": ["2026-13-01"]})
    refused = client.post(url, content=body, headers={**FILE_OFFICER, "content-type": "application/json"})
    assert [(e["field"], e["code"]) for e in refused.json()["detail"]["errors"]] == [("holidays[0]", "invalid_date")]
    fixed = body.replace("2026-13-01", "2026-05-01")
    assert client.post(f"{url}?filename=c.json", content=fixed, headers=FILE_OFFICER).status_code == 200
    assert client.post(url, files={"other": ("c.csv", b"x")}, headers=FILE_OFFICER).status_code == 422
    assert client.post(url, content=b"\xff\xfe\x00", headers=FILE_OFFICER).status_code == 422
    assert client.post(url, files={"file": ("c.csv", CSV.encode())}, headers=STAFF).status_code == 403


def test_the_cli_imports_a_calendar_file_or_prints_its_row_errors(database_url, tmp_path, monkeypatch, client):
    monkeypatch.setenv("BAOXUE_DATABASE_URL", database_url)
    monkeypatch.setenv("BAOXUE_ENV", "test")
    good, bad = tmp_path / "calendar.csv", tmp_path / "bad.csv"
    good.write_text(CSV, encoding="utf-8-sig")
    bad.write_text("kind,start,end,name\nterm,2025-09-01,2025-08-01,秋\n", encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(cli, ["import-calendar", "520107", str(good), "--dry-run"])
    assert checked.exit_code == 0 and "nothing set" in checked.output
    refused = runner.invoke(cli, ["import-calendar", "520107", str(bad)])
    assert refused.exit_code == 1 and "line 2: end: end_before_start" in refused.output
    imported = runner.invoke(cli, ["import-calendar", "520107", str(good), "--actor", "officer-7"])
    assert imported.exit_code == 0 and "calendar version 1" in imported.output, imported.output
    cut = runner.invoke(cli, ["set-cutoff", "520107", "17:15"])
    assert cut.exit_code == 0 and "version 2" in cut.output
    shown = json.loads(runner.invoke(cli, ["show-calendar", "520107"]).output)
    assert (shown["calendar_version"], shown["day_close"]) == (1, {"cutoff": "17:15", "version": 2})
    assert runner.invoke(cli, ["import-calendar", "5201", str(good)]).exit_code != 0


# -- one rate limit across API workers -----------------------------------------------------------
def test_two_api_workers_share_one_bucket_per_client(service):
    runtime, app, _ = service
    school_id, students = new_school(service)
    gate = auth("attendance_system", COUNTY, user_id="gate-shared", schools=[school_id])
    url = f"/v1/schools/{school_id}/days/{MON}/checkins"
    worker_1 = create_app(runtime, app, buckets=SharedTokenBuckets(runtime.db, rate=0.01, burst=2))
    worker_2 = create_app(runtime, app, buckets=SharedTokenBuckets(runtime.db, rate=0.01, burst=2))
    with TestClient(worker_1) as one, TestClient(worker_2) as two:
        answers = [one.post(url, json=checkins(students), headers=gate), two.post(url, json=checkins(students), headers=gate)]
        third = two.post(url, json=checkins(students), headers=gate)
        bulk = one.post(f"/v1/days/{MON}/checkins", json={"items": [{"school_id": school_id, "student_id": students[0]}]}, headers=gate)
    assert [a.status_code for a in answers] == [200, 200]
    assert third.status_code == 429 and third.json()["detail"]["rule"] == "client_rate_limit"
    assert int(third.headers["Retry-After"]) >= 1 and bulk.status_code == 429


def test_the_shared_bucket_refills_at_the_rate_and_keeps_clients_apart(service):
    db = service[0].db
    buckets = SharedTokenBuckets(db, rate=5, burst=1)
    buckets.take("gate-refill")
    with pytest.raises(RateLimited) as limited:
        buckets.take("gate-refill")
    assert 0 < limited.value.retry_after <= 0.2
    buckets.take("gate-other")
    with db.transaction() as conn:  # a quarter second later (as the database's clock sees it)
        conn.execute("UPDATE rate_buckets SET refilled_at = refilled_at - interval '250 milliseconds' WHERE client_id = %s",
                     ("gate-refill",))
    buckets.take("gate-refill")


def test_default_buckets_are_shared_on_postgres(service):
    from services.attendance.entrypoints.api.app import default_buckets

    assert isinstance(default_buckets(service[1]), SharedTokenBuckets)
