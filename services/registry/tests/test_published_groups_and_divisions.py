"""What other services learn from the registry about special groups (特殊群体) and administrative divisions (行政区划)."""

from __future__ import annotations

from datetime import date

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from services.registry.adapters.publishing import contract_mapper, to_contract
from services.registry.domain.jurisdictions import Division, division_id_for
from services.registry.tests.stories import META, County, make_id

LEFT_BEHIND_CHILD = make_id("52010220150807002")


def groups_published(county: County) -> list:
    return [c for c in county.published() if c.event_name == "SpecialGroupsChanged"]


@pytest.fixture
def county():
    return County()


def test_a_left_behind_childs_flags_are_published_as_codes_without_personal_data(county):
    county.resident(LEFT_BEHIND_CHILD, source="civil_affairs", name="王小明", guardian_name="王大山",
                    guardian_phone="13800001234", flags={"left_behind": {}}, as_of=date(2026, 7, 10))
    county.resident(LEFT_BEHIND_CHILD, source="disability_federation", name="王小明",
                    flags={"disabled": {"degree": "2"}}, as_of=date(2026, 7, 20))

    first, second = groups_published(county)
    assert [(g.group, g.since, g.source) for g in first.groups] == [("left_behind", date(2026, 7, 10), "civil_affairs")]
    assert [(g.group, g.degree, g.until) for g in second.groups] == [("disabled", "2", None), ("left_behind", None, None)]
    assert second.township_code == "520102001" and second.student_id == first.student_id
    text = second.model_dump_json()
    for secret in ("王小明", "王大山", "13800001234", LEFT_BEHIND_CHILD, LEFT_BEHIND_CHILD[6:14]):
        assert secret not in text


def test_a_group_no_source_names_any_longer_ends_on_that_report_and_a_repeat_publishes_nothing(county):
    county.resident(LEFT_BEHIND_CHILD, source="civil_affairs", flags={"left_behind": {}, "orphan": {}},
                    as_of=date(2026, 3, 1))
    county.resident(LEFT_BEHIND_CHILD, source="civil_affairs", flags={"orphan": {}}, as_of=date(2026, 9, 1))
    county.resident(LEFT_BEHIND_CHILD, source="civil_affairs", flags={"orphan": {}}, as_of=date(2026, 9, 1))
    county.resident(LEFT_BEHIND_CHILD, source="public_security", flags={}, as_of=date(2026, 9, 2))  # says nothing new

    published = groups_published(county)
    assert len(published) == 2
    assert [(g.group, g.since, g.until) for g in published[-1].groups] == [
        ("left_behind", date(2026, 3, 1), date(2026, 9, 1)), ("orphan", date(2026, 3, 1), None)]


def test_a_merge_brings_the_other_records_groups_and_its_undo_takes_them_back(county):
    typo = make_id("52010220150807012")
    county.resident(LEFT_BEHIND_CHILD, source="public_security")
    county.resident(typo, source="poverty_alleviation", flags={"registered_poor": {}}, as_of=date(2026, 7, 12))
    county.app.population.merge_children(survivor_id_number=LEFT_BEHIND_CHILD, other_id_number=typo, reason="号码录错",
                                         meta={**META, "at": "2026-08-01T09:00:00+08:00"})
    survivor, merged = groups_published(county)[-2:]
    assert [g.group for g in survivor.groups] == ["registered_poor"]
    assert [(g.group, g.until) for g in merged.groups] == [("registered_poor", date(2026, 8, 1))]

    county.app.population.undo_merge(survivor_id_number=LEFT_BEHIND_CHILD, other_id_number=typo, reason="并非同一人",
                                     meta={**META, "at": "2026-08-05T09:00:00+08:00"})
    survivor, other = groups_published(county)[-2:]
    assert [(g.group, g.until) for g in survivor.groups] == [("registered_poor", date(2026, 8, 5))]
    assert [(g.group, g.until) for g in other.groups][-1] == ("registered_poor", None)


def test_an_imported_file_publishes_groups_only_for_flagged_children(county):
    rows = [
        "身份证号,姓名,出生日期,乡镇代码,特殊群体",
        f"{LEFT_BEHIND_CHILD},王小明,2015-08-07,520102001,留守儿童;残疾儿童:1",
        f"{make_id('52010220150101004')},李华,2015-01-01,520102001,",
    ]
    report = county.app.imports.import_file(kind="population", content="\n".join(rows).encode(), filename="mz.csv",
                                            source="civil_affairs", valid_only=False, today=date(2026, 7, 10), meta=META)
    assert report.created == 2
    (published,) = groups_published(county)
    assert {(g.group, g.degree) for g in published.groups} == {("left_behind", None), ("disabled", "1")}
    again = county.app.imports.import_file(kind="population", content="\n".join(rows).encode(), filename="mz.csv",
                                           source="civil_affairs", valid_only=False, today=date(2026, 7, 10), meta=META)
    assert again.unchanged == 2 and len(groups_published(county)) == 1


@pytest.fixture(scope="module")
def guiyang():
    county = County()
    county.app.divisions.load_divisions(prefix="520102", meta=META)
    return county


def test_every_loaded_division_is_published_with_its_name_level_and_parent(guiyang):
    registered = {c.code: c for c in guiyang.published() if c.event_name == "JurisdictionRegistered"}
    assert registered["520102"].name == "南明区" and registered["520102"].level == "county"
    assert registered["520100"].level == "prefecture" and registered["520000"].level == "province"
    township = registered["520102001"]
    assert township.parent_code == "520102" and township.level == "township"
    assert township.effective_from == date(2025, 12, 31)


def test_renames_merges_and_abolitions_are_published_with_their_dates(guiyang):
    app = guiyang.app
    app.divisions.change_division(code="520102003", change="rename", name="新华街道(新)", effective=date(2026, 7, 1), meta=META)
    app.divisions.change_division(code="520102004", change="merge", target_code="520102001", effective=date(2026, 8, 1),
                                  meta=META)
    app.divisions.establish_division(code="520102001001", name="示例社区", level="village", parent_code="520102001",
                                     effective=date(2026, 9, 1), source="township", meta=META)
    app.divisions.change_division(code="520102001001", change="abolish", effective=date(2026, 10, 1), meta=META)
    changes = [(c.code, c.kind, c.name, c.successor_code, c.effective)
               for c in guiyang.published() if c.event_name == "JurisdictionChanged"]
    assert changes[-3:] == [
        ("520102003", "renamed", "新华街道(新)", None, date(2026, 7, 1)),
        ("520102004", "merged", None, "520102001", date(2026, 8, 1)),
        ("520102001001", "abolished", None, None, date(2026, 10, 1)),
    ]
    village = [c for c in guiyang.published() if c.event_name == "JurisdictionRegistered"][-1]
    assert (village.code, village.level, village.effective_from) == ("520102001001", "village", date(2026, 9, 1))


def test_a_rename_stored_before_changes_carried_their_code_is_named_by_the_relay():
    county = County()
    app = county.app
    app.store.save(Division(code="520102009", name="旧名街道", level="township", parent_code="520102",
                      effective=date(2025, 1, 1), source="test", meta=META))
    state = (b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00+00:00"},"name":"\\u65b0\\u540d",'
             b'"effective":{"_type_":"date_iso","_data_":"2026-03-01"},"meta":{}}')
    app.store.recorder.insert_events([StoredEvent(originator_id=division_id_for("520102009"), originator_version=2,
                                            topic=get_topic(Division.Renamed), state=state)])
    last = app.store.recorder.select_notifications(start=1, limit=1000)[-1]
    legacy = app.store.mapper.to_domain_event(last)
    assert to_contract(legacy) is None  # without the application the division cannot be named
    contract = contract_mapper(app.store)(legacy)
    assert (contract.code, contract.kind, contract.name) == ("520102009", "renamed", "新名")
