"""Bulk import: whole-file validation, every bad row with its line and reason, all or nothing, re-import harmless."""

import io
from datetime import date

import pytest
from openpyxl import Workbook

from services.registry.adapters.bulk import BulkWriter
from services.registry.domain.errors import InvalidInput
from services.registry.domain.registration import Student, student_id_for
from services.registry.domain.population import Child, child_id_for
from services.registry.tests.stories import META, County, make_id, wrong_id

TODAY = date(2026, 9, 1)
GOOD = make_id("52010220160512003")
HEADER = "身份证号,姓名,出生日期,学校代码,年级,班级\n"


@pytest.fixture
def county():
    return County()


def students(county, text, *, valid_only=False, filename="学籍.csv"):
    return county.app.imports.import_file(kind="students", content=text.encode(), filename=filename, source="education",
                                          valid_only=valid_only, today=TODAY, meta=META)


def test_a_clean_file_imports_and_importing_it_again_changes_nothing(county):
    text = HEADER + f"{GOOD},王小明,2016-05-12,P1,4,4-1\n{make_id('52010220150101004')},李华,2015/01/01,P1,5,5-2\n"
    first = students(county, text)
    assert first.imported and first.created == 2 and not first.errors
    before = county.app.store.recorder.max_notification_id()
    again = students(county, text)
    assert again.imported and again.created == 0 and again.unchanged == 2
    assert county.app.store.recorder.max_notification_id() == before
    assert county.app.registration.student(student_id_for(GOOD)).grade == 4


BAD_ROWS = [
    ("bad check digit", f"{wrong_id('52010220160512003')},王小明,2016-05-12,P1,4,4-1", "id_number_check_digit"),
    ("bad format", "5201022016051200,王小明,2016-05-12,P1,4,4-1", "id_number_format"),
    ("impossible birth date", f"{GOOD},王小明,2016-02-30,P1,4,4-1", "birth_date_invalid"),
    ("future birth date", f"{make_id('52010220300101003')},王小明,2030-01-01,P1,4,4-1", "birth_date_future"),
    ("birth date not the ID's", f"{GOOD},王小明,2016-05-13,P1,4,4-1", "birth_date_matches_id_number"),
    ("ID with impossible date", f"{make_id('52010220161341003')},王小明,2016-12-01,P1,4,4-1", "id_number_birth_date"),
    ("unknown school", f"{GOOD},王小明,2016-05-12,NOPE,4,4-1", "unknown_school"),
    ("grade the school lacks", f"{GOOD},王小明,2016-05-12,P1,8,8-1", "grade_fits_school"),
    ("grade not a number", f"{GOOD},王小明,2016-05-12,P1,四,4-1", "grade_invalid"),
    ("no name", f"{GOOD},,2016-05-12,P1,4,4-1", "name_missing"),
    ("no class", f"{GOOD},王小明,2016-05-12,P1,4,", "class_missing"),
]


@pytest.mark.parametrize("case, row, code", BAD_ROWS, ids=[c for c, _, _ in BAD_ROWS])
def test_every_kind_of_bad_row_is_reported_with_its_line_and_nothing_is_imported(county, case, row, code):
    good = f"{make_id('52010220150101004')},李华,2015-01-01,P1,5,5-2"
    before = county.app.store.recorder.max_notification_id()
    report = students(county, HEADER + good + "\n" + row + "\n")
    assert not report.imported and report.created == 0
    assert [(e.line, e.code) for e in report.errors] == [(3, code)], case
    assert county.app.store.recorder.max_notification_id() == before


def test_duplicates_in_a_file_are_reported_on_every_line(county):
    row = f"{GOOD},王小明,2016-05-12,P1,4,4-1"
    report = students(county, HEADER + "\n".join([row, f"{make_id('52010220150101004')},李华,2015-01-01,P1,5,5-2",
                                                   row.replace(GOOD, GOOD.lower()) if GOOD.endswith("X") else row]))
    assert not report.imported
    assert sorted((e.line, e.code) for e in report.errors) == [(2, "duplicate_in_file"), (4, "duplicate_in_file")]


def test_the_caller_may_import_the_valid_rows_only(county):
    text = HEADER + f"{GOOD},王小明,2016-05-12,P1,4,4-1\n{wrong_id('52010220150101004')},李华,2015-01-01,P1,5,5-2\n"
    report = students(county, text, valid_only=True)
    assert report.imported and report.created == 1 and [e.line for e in report.errors] == [3]


def test_a_child_registered_elsewhere_is_a_row_error_not_a_silent_move(county):
    county.enrol(GOOD)
    report = students(county, HEADER + f"{GOOD},王小明,2016-05-12,J1,7,7-1\n".replace("J1,7,7-1", "P1,5,5-1"))
    assert not report.imported and report.errors[0].code == "one_active_enrolment"


@pytest.mark.parametrize("content, filename, rule", [
    (b"", "x.csv", "file_empty"),
    ("身份证号,姓名\n".encode(), "x.csv", "columns_missing"),
    (HEADER.encode(), "x.csv", "file_empty"),
    (b"\xff\xfe\x00garbage\x81\x82", "x.csv", "file_encoding"),
    (b"not a workbook", "x.xlsx", "file_unreadable"),
])
def test_unreadable_files_are_refused_whole(county, content, filename, rule):
    with pytest.raises(InvalidInput) as err:
        county.app.imports.import_file(kind="students", content=content, filename=filename, source="education",
                                       valid_only=True, today=TODAY, meta=META)
    assert err.value.rule == rule


def test_an_xlsx_file_from_a_data_exchange_imports_with_flags(county):
    book = Workbook()
    sheet = book.active
    sheet.append(["身份证号", "姓名", "出生日期", "乡镇代码", "特殊群体"])
    sheet.append([GOOD, "王小明", date(2016, 5, 12), "520102001", "残疾儿童:2;留守儿童"])
    sheet.append([wrong_id("52010220150101004"), "李华", "2015-01-01", "520102001", ""])
    sheet.append([make_id("52010220150101004"), "李华", "2015-01-01", "52010200", "外星人"])
    buffer = io.BytesIO()
    book.save(buffer)
    report = county.app.imports.import_file(kind="population", content=buffer.getvalue(), filename="残联.xlsx",
                                            source="disability_federation", valid_only=True, today=TODAY, meta=META)
    assert report.created == 1
    assert [(e.line, e.code) for e in report.errors] == [(3, "id_number_check_digit"), (4, "unknown_township"),
                                                        (4, "flag_invalid")]
    flags = county.app.population.child_record(GOOD).flags()
    assert flags["disabled"][0]["degree"] == "2" and flags["disabled"][0]["source"] == "disability_federation"
    assert "left_behind" in flags


def test_fast_encoding_is_what_the_library_itself_would_store(county):
    """The bulk writer's direct encoding round-trips through the library's repository unchanged."""
    writer = BulkWriter(county.app.store, batch_size=2)
    fields = dict(id_number=GOOD, name="王小明", birth_date=date(2016, 5, 12), school_id="s", county_code="520102",
                  township_code="520102001", grade=4, class_name="4-1", guardian_name=None, guardian_phone=None,
                  head_teacher_id=None, head_teacher_name=None, meta=META)
    writer.created(Student, Student.Enrolled, student_id_for(GOOD), fields)
    other = make_id("52010220150101004")
    writer.created(Child, Child.Registered, child_id_for(other), {"id_number": other, "record": {
        "key": "k", "source": "public_security", "as_of": "2026-07-01", "attributes": {}, "flags": {}}, "meta": META})
    writer.close()
    student = county.app.registration.student(student_id_for(GOOD))
    assert (student.birth_date, student.grade, student.status) == (date(2016, 5, 12), 4, "enrolled")
    reference = Student(**fields)
    stored = county.app.store.mapper.to_stored_event(reference.collect_events()[0])
    ours = county.app.store.recorder.select_events(student_id_for(GOOD))[0]
    decode = county.app.store.mapper.transcoder.decode
    raw_ours, raw_lib = decode(ours.state), decode(stored.state)
    assert set(raw_ours) == set(raw_lib) and raw_ours["name"].startswith("pii1:") and raw_lib["name"].startswith("pii1:")
    opened = county.app.store.mapper.to_domain_event
    assert {k: v for k, v in vars(opened(ours)).items() if k != "timestamp"} == {
        k: v for k, v in vars(opened(stored)).items() if k != "timestamp"}  # sealed with fresh nonces: compare opened
    assert ours.topic == stored.topic
    assert county.app.population.child_record(other).status == "active"
