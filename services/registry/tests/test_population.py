"""The population ledger: sources linked by ID number, provenance, conflicts, special groups, undoable merges."""

from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.registry.domain.errors import Conflict, InvalidInput
from services.registry.domain.registration import normalise_id_number, validate_id_number
from services.registry.domain.population import child_id_for
from services.registry.tests.stories import META, County, make_id
from services.runtime.testing import in_memory


@pytest.fixture
def county():
    return County()


def test_two_sources_disagree_on_a_birth_date(county):
    child = make_id("52010220150807002")
    county.resident(child, source="public_security", name="张小红")
    record = county.resident(child, source="civil_affairs", name="张小红", birth_date=date(2015, 8, 17),
                             flags={"orphan": {}}, as_of=date(2026, 7, 12))
    assert record.resolved()["birth_date"] == "2015-08-07"  # public security's 户籍 is the authority
    conflict = record.conflicts()["birth_date"]
    assert {(v["source"], v["value"]) for v in conflict} == {("public_security", "2015-08-07"),
                                                             ("civil_affairs", "2015-08-17")}
    assert "name" not in record.conflicts()
    assert record.flags()["orphan"] == [{"source": "civil_affairs", "as_of": "2026-07-12"}]
    assert [v["source"] for v in record.provenance()["name"]] == ["public_security", "civil_affairs"]


def test_a_source_reporting_the_same_again_changes_nothing(county):
    child = make_id("52010220150807002")
    county.resident(child)
    before = county.app.store.recorder.max_notification_id()
    county.resident(child, as_of=date(2026, 8, 1))
    assert county.last_outcome == "unchanged" and county.app.store.recorder.max_notification_id() == before
    county.resident(child, flags={"left_behind": {}})
    assert county.last_outcome == "changed"


def test_special_groups_carry_source_and_degree(county):
    child = make_id("52010220150807002")
    record = county.resident(child, source="disability_federation", flags={"disabled": {"degree": "3"}})
    assert record.flags()["disabled"][0] == {"source": "disability_federation", "as_of": "2026-07-10", "degree": "3"}
    with pytest.raises(InvalidInput) as err:
        county.resident(child, source="disability_federation", flags={"disabled": {"degree": "7"}})
    assert err.value.rule == "disability_degree"
    with pytest.raises(InvalidInput):
        county.resident(child, source="hearsay")


def test_a_wrong_merge_is_undone(county):
    real, typo = make_id("52010220150807002"), make_id("52010220150807012")
    county.resident(real, name="刘洋")
    county.resident(typo, source="poverty_alleviation", name="刘洋", flags={"registered_poor": {}})
    county.app.population.merge_children(survivor_id_number=real, other_id_number=typo, reason="扶贫办身份证号录入错误", meta=META)
    merged = county.app.population.child_record(real)
    assert "registered_poor" in merged.flags() and county.app.population.child_record(typo).merged_into == str(merged.id)
    assert county.compare(date(2026, 9, 15))["out_of_school"]["identified"] == 1  # one child, not two
    with pytest.raises(Conflict):
        county.resident(typo, source="poverty_alleviation", name="刘洋 ")
    county.app.population.undo_merge(survivor_id_number=real, other_id_number=typo, reason="核实为两名儿童", meta=META)
    assert "registered_poor" not in county.app.population.child_record(real).flags()
    assert county.app.population.child_record(typo).merged_into is None
    assert county.compare(date(2026, 9, 16))["out_of_school"]["identified"] == 1  # the other child counts again
    with pytest.raises(Conflict):
        county.app.population.undo_merge(survivor_id_number=real, other_id_number=typo, reason="again", meta=META)


@st.composite
def id_numbers(draw):
    body = f"5201{draw(st.integers(1, 99)):02d}{draw(st.dates(date(2008, 1, 1), date(2020, 12, 31))):%Y%m%d}"
    return make_id(body + f"{draw(st.integers(0, 999)):03d}")


def spellings(id_number: str):
    full_width = id_number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    return st.sampled_from([id_number, id_number.lower(), f" {id_number} ", full_width, id_number[:9] + " " + id_number[9:]])


@settings(max_examples=40, deadline=None)
@given(st.lists(id_numbers(), min_size=1, max_size=6, unique=True), st.data())
def test_records_link_by_id_number_however_it_is_written_and_in_any_order(ids, data):
    """Linkage property: one child per ID number, whatever the spelling, source order or repetition."""
    reports = [(i, s) for i in ids for s in ("public_security", "civil_affairs", "poverty_alleviation")]
    reports = data.draw(st.permutations(reports + reports[: len(ids)]))
    app = Registry(in_memory(RegistryApp))
    for id_number, source in reports:
        app.population.report_child(source=source, id_number=data.draw(spellings(id_number)), attributes={"name": "某"},
                                    flags={}, as_of=date(2026, 7, 10), source_record_id=None, meta=META)
    app.index.catch_up(app.store)
    rows = app.index.tables["child_index"]
    assert set(rows) == {str(child_id_for(i)) for i in ids}
    for i in ids:
        assert {r["source"] for r in app.population.child_record(i).records.values()} == {
            "public_security", "civil_affairs", "poverty_alleviation"}


@given(id_numbers())
def test_normalised_id_numbers_validate_and_keep_their_birth_date(id_number):
    assert validate_id_number(normalise_id_number(f" {id_number.lower()} ")) == date(
        int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
