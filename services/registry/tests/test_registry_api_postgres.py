"""The registry's new API on PostgreSQL: imports, lifecycle, comparisons, queries — all scoped, all masked."""

import io
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from services.registry.entrypoints.api import create_app
from services.registry.bootstrap import build_registry
from services.registry.domain.registration import student_id_for
from services.registry.settings import RegistrySettings
from services.registry.tests.stories import make_id, wrong_id
from services.runtime.bootstrap import build_runtime
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
COUNTY = auth("county_officer", "520102")
OTHER = auth("county_officer", "520103")
EXCHANGE = auth("county_officer", "520102", user_id="public-security-feed")
A, B, C = make_id("52010220160512103"), make_id("52010220150807102"), make_id("52010220140301105")


@pytest.fixture(scope="module")
def client(database_url):
    settings = RegistrySettings(database_url=database_url, env="test", db_pool_size=2)
    runtime = build_runtime("registry", "api", settings)
    registry = build_registry(runtime, settings)
    with TestClient(create_app(runtime, registry, settings.rules())) as c:
        c.registry = registry
        schools = {}
        for code, level in (("API-P", "primary"), ("API-J", "junior")):
            r = c.post("/v1/schools", headers=COUNTY, json={"code": code, "name": code, "level": level,
                                                              "county_code": "520102", "township_code": "520102001"})
            schools[level] = r.json()["school_id"]
        c.schools = schools
        yield c
    runtime.close()


def upload(client, kind, text, headers=COUNTY, **params):
    return client.post(f"/v1/imports/{kind}", params={"filename": f"{kind}.csv", **params}, headers=headers,
                       content=text.encode())


def test_a_population_file_with_a_bad_row_imports_nothing_then_the_valid_rows_on_request(client):
    text = ("身份证号,姓名,出生日期,乡镇代码,特殊群体\n"
            f"{A},张三丰,2016-05-12,520102001,\n{B},李秀英,2015-08-07,520102001,留守儿童\n"
            f"{C},赵六,2014-03-01,520102001,\n{wrong_id('52010220150101004')},坏,2015-01-01,520102001,\n")
    r = upload(client, "population", text, headers=EXCHANGE)
    assert r.status_code == 200 and r.json()["imported"] is False
    assert r.json()["errors"] == [{"line": 5, "column": "id_number", "code": "id_number_check_digit",
                                   "message": "身份证号校验位错误 (GB 11643)"}]
    r = upload(client, "population", text, headers=EXCHANGE, valid_only="true")
    assert r.json()["imported"] and r.json()["created"] == 3
    assert upload(client, "population", text, headers=EXCHANGE, valid_only="true").json()["unchanged"] == 3
    assert upload(client, "population", text, headers=auth("head_teacher", "520102001")).status_code == 403


def test_the_census_finds_the_unregistered_and_queries_stay_in_the_jurisdiction(client):
    text = f"身份证号,姓名,出生日期,学校代码,年级,班级\n{A},张三丰,2016-05-12,API-P,4,4-1\n"
    assert upload(client, "students", text).json()["created"] == 1
    r = client.post("/v1/comparisons/run", headers=COUNTY, json={"kinds": ["out_of_school"], "as_of": "2026-09-20"})
    assert r.status_code == 200 and r.json()["results"]["out_of_school"]["identified"] == 2
    assert client.post("/v1/comparisons/run", headers=OTHER, json={"prefix": "520102"}).status_code == 403
    found = client.get("/v1/children", params={"name": "李秀英"}, headers=COUNTY).json()
    assert found[0]["name_masked"] == "李*英" and found[0]["special_groups"] == ["left_behind"]
    assert found[0]["registration"] is None and B not in str(found)
    assert client.get("/v1/children", params={"name": "李秀英"}, headers=OTHER).json() == []
    by_id = client.get("/v1/children", params={"id_number": A}, headers=COUNTY).json()
    assert by_id[0]["registration"]["grade"] == 4 and by_id[0]["id_number_masked"] == A[:6] + "*" * 8 + A[-4:]
    counts = client.get("/v1/counts", params={"by": "school"}, headers=COUNTY).json()
    assert {"school": client.schools["primary"], "total": 1, "by_grade": {"4": 1}} in counts
    assert client.get("/v1/counts", params={"prefix": "520102"}, headers=OTHER).status_code == 403


def test_a_childs_history_lists_every_event_with_source_and_actor(client):
    sid = str(student_id_for(A))
    client.post(f"/v1/students/{sid}/transfer-out", headers=COUNTY,
                json={"on": "2026-09-25", "reason": "随迁", "to_region_code": "44"})
    history = client.get(f"/v1/children/{sid}/history", headers=COUNTY).json()
    events = [h["event"] for h in history]
    assert events[:1] == ["Registered"] and "Enrolled" in events and events[-1] == "TransferredOut"
    assert all(h["actor_id"] for h in history) and history[0]["source"] == "public_security"
    assert A not in str(history) and "张三丰" not in str(history)
    assert client.get(f"/v1/children/{sid}/history", headers=OTHER).status_code == 404


def test_lifecycle_routes_refuse_bad_transitions_and_other_jurisdictions(client):
    sid = str(student_id_for(A))
    r = client.post(f"/v1/students/{sid}/suspend", headers=COUNTY,
                    json={"on": "2026-09-26", "reason": "病", "approval_ref": "A1"})
    assert r.status_code == 409 and r.json()["detail"]["rule"] == "休学_from_status"
    r = client.post(f"/v1/students/{sid}/transfer-in", headers=COUNTY,
                    json={"on": "2026-09-27", "school_id": client.schools["primary"], "grade": 4, "class_name": "4-2"})
    assert r.status_code == 200 and r.json()["status"] == "enrolled"
    assert client.post(f"/v1/students/{sid}/graduate", headers=OTHER,
                       json={"on": "2026-07-01", "level": "primary"}).status_code == 403


def test_two_sources_disagree_and_the_provenance_shows_who_said_what(client):
    r = client.post("/v1/population/records", headers=EXCHANGE, json={
        "source": "civil_affairs", "id_number": B, "name": "李秀英", "birth_date": "2015-08-17",
        "township_code": "520102001", "flags": {"de_facto_unsupported": {}}})
    assert r.status_code == 200 and r.json()["outcome"] == "created" or r.json()["outcome"] == "changed"
    p = client.get(f"/v1/children/by-id-number/{B}/provenance", headers=COUNTY).json()
    assert p["resolved"]["birth_date"] == "2015-08-07" and len(p["conflicts"]["birth_date"]) == 2
    assert p["resolved"]["name"] == "李*英" and B not in str(p)
    assert client.get(f"/v1/children/by-id-number/{B}/provenance", headers=OTHER).status_code == 403


def test_a_death_reported_by_public_security_retracts_the_finding(client):
    r = client.post("/v1/population/life-events", headers=EXCHANGE,
                    json={"id_number": C, "status": "deceased", "on": "2026-09-28", "reference": "公2026-9"})
    assert r.status_code == 200 and r.json()["changed"] is True
    r = client.post("/v1/comparisons/run", headers=COUNTY, json={"kinds": ["out_of_school"], "as_of": "2026-09-29"})
    assert r.json()["results"]["out_of_school"]["retracted"] == 1


def test_the_read_model_rebuilds_to_the_same_rows(client):
    index, registry = client.registry.index, client.registry
    index.catch_up(registry.store)
    before = {t: sorted(map(str, index.rows(t, "", field="id"))) for t in ("child_index", "student_index")}
    index.drop()
    index.catch_up(registry.store)
    after = {t: sorted(map(str, index.rows(t, "", field="id"))) for t in ("child_index", "student_index")}
    assert before == after


def test_divisions_load_and_answer_as_of_a_date(client):
    assert client.post("/v1/jurisdictions/load", headers=COUNTY).json()["created"] > 5
    tree = client.get("/v1/jurisdictions", params={"as_of": date(2026, 1, 1).isoformat()}, headers=COUNTY).json()
    assert any(d["code"] == "520102001" for d in tree)
    assert client.get("/v1/jurisdictions", params={"prefix": "52"}, headers=COUNTY).status_code == 403


def test_an_uploaded_file_with_a_bad_row_reports_its_line_and_the_raw_body_still_works(client):
    D, E = make_id("52010220150611107"), make_id("52010220150611115")
    text = f"身份证号,姓名,出生日期,学校代码,年级,班级\n{D},孙七,2015-06-11,API-P,5,5-1\n{E},周八,2015-06-31,API-P,5,5-1\n"
    files = {"file": ("学籍.csv", text.encode(), "text/csv")}
    r = client.post("/v1/imports/students", headers=COUNTY, files=files)
    assert r.status_code == 200 and r.json()["imported"] is False
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(3, "birth_date_invalid")]
    r = client.post("/v1/imports/students", headers=COUNTY, files=files, params={"valid_only": "true"})
    assert r.json()["imported"] and r.json()["created"] == 1
    assert upload(client, "students", text, valid_only="true").json()["unchanged"] == 1  # raw body: same file
    book = io.BytesIO()
    sheet = Workbook()
    sheet.active.append(["身份证号", "姓名", "出生日期", "学校代码", "年级", "班级"])
    sheet.active.append([D, "孙七", "2015-06-11", "API-P", 5, "5-1"])
    sheet.save(book)
    r = client.post("/v1/imports/students", headers=COUNTY, files={"file": ("学籍.xlsx", book.getvalue())})
    assert r.status_code == 200 and r.json()["unchanged"] == 1  # the uploaded name decides the format
    r = client.post("/v1/imports/students", headers=COUNTY, files={"other": ("x.csv", b"a")})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "file_missing"


def test_a_county_sets_its_own_thresholds_and_only_for_its_county(client):
    r = client.put("/v1/jurisdictions/520102/comparison-rules", headers=COUNTY, json={"transfer_lost_days": 15})
    assert r.status_code == 200 and r.json() == {"jurisdiction": "520102", "version": 2, "transfer_lost_days": 15,
                                                 "school_year_start": "09-01", "transition_deadline": None}
    assert client.put("/v1/jurisdictions/520103/comparison-rules", headers=COUNTY,
                      json={"transfer_lost_days": 5}).status_code == 403
    assert client.put("/v1/jurisdictions/520102/comparison-rules", headers=auth("township_officer", "520102001"),
                      json={"transfer_lost_days": 5}).status_code == 403
    assert client.put("/v1/jurisdictions/520102/comparison-rules", headers=COUNTY,
                      json={"transfer_lost_days": 0}).status_code == 422
    own = client.get("/v1/jurisdictions/520102001/comparison-rules", headers=COUNTY).json()
    assert own["jurisdiction"] == "520102" and own["transfer_lost_days"] == 15
    default = client.get("/v1/jurisdictions/520103/comparison-rules", headers=OTHER).json()
    assert default == {"jurisdiction": "", "version": 1, "transfer_lost_days": 30, "school_year_start": "09-01",
                       "transition_deadline": None}


def test_a_township_merge_through_the_api_moves_its_school_as_of_the_date(client):
    r = client.post("/v1/schools", headers=COUNTY, json={"code": "API-T2", "name": "小车河小学", "level": "primary",
                                                          "county_code": "520102", "township_code": "520102002"})
    assert r.status_code == 201
    r = client.post("/v1/jurisdictions/520102002/changes", headers=COUNTY,
                    json={"change": "merge", "target_code": "520102001", "effective": "2026-07-01"})
    assert r.status_code == 204

    def schools(as_of, jurisdiction="520102"):
        r = client.get("/v1/schools", params={"as_of": as_of, "jurisdiction": jurisdiction}, headers=COUNTY)
        assert r.status_code == 200
        return {s["code"]: s["township_code"] for s in r.json()}

    assert schools("2026-06-30")["API-T2"] == "520102002" and schools("2026-07-01")["API-T2"] == "520102001"
    assert "API-T2" not in schools("2026-07-01", "520102002")
    assert client.get("/v1/schools", params={"jurisdiction": "520102"}, headers=OTHER).status_code == 403
    r = client.post("/v1/jurisdictions", headers=COUNTY, json={
        "code": "520102001201", "name": "一村", "level": "village", "parent_code": "520102001",
        "effective": "2026-03-01"})
    assert r.status_code == 201
    tree = client.get("/v1/jurisdictions", params={"as_of": "2026-03-01", "prefix": "520102001"},
                      headers=COUNTY).json()
    assert any(d["code"] == "520102001201" and d["level"] == "village" for d in tree)


def test_an_import_never_writes_outside_the_callers_jurisdiction(client):
    F, G = make_id("52010220150611123"), make_id("52010320150611131")
    students = f"身份证号,姓名,出生日期,学校代码,年级,班级\n{F},吴九,2015-06-11,API-P,5,5-1\n"
    r = upload(client, "students", students, headers=OTHER, valid_only="true")  # a 520103 officer, a 520102 school
    assert r.status_code == 200 and r.json()["created"] == 0
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(2, "out_of_jurisdiction")]
    population = f"身份证号,姓名,出生日期,乡镇代码,特殊群体\n{G},郑十,2015-06-11,520102001,\n"
    r = upload(client, "population", population, headers=OTHER)
    assert r.json()["imported"] is False and r.json()["errors"][0]["code"] == "out_of_jurisdiction"
    schools = "code,name,level,county_code,township_code\nOUT-1,外县学校,primary,520102,520102001\n"
    r = upload(client, "schools", schools, headers=OTHER)
    assert r.json()["imported"] is False and r.json()["errors"][0]["code"] == "out_of_jurisdiction"
