"""The hierarchy as of a date (township merges move their schools) and thresholds per jurisdiction, as stories."""

from datetime import date

import pytest

from services.registry.domain.comparisons import Rules
from services.registry.domain.errors import Conflict, InvalidInput
from services.registry.settings import RegistrySettings
from services.registry.tests.stories import META, RULES, County, make_id


@pytest.fixture
def county():
    county = County()
    county.app.divisions.load_divisions(prefix="520102", meta=META)
    return county


def codes(schools):
    return {s["code"]: s["township_code"] for s in schools}


# -- 1. the hierarchy as of a date --------------------------------------------------------------------
def test_a_township_merge_moves_its_schools_and_the_as_of_query_shows_before_and_after(county):
    app = county.app
    # 小车河街道 (520102002) has the special school T1; it merges into 五里冲街道 (520102001) on 2026-07-01
    app.divisions.change_division(code="520102002", change="merge", target_code="520102001", effective=date(2026, 7, 1),
                                  meta=META)
    before = app.divisions.schools_as_of("520102", date(2026, 6, 30))
    after = app.divisions.schools_as_of("520102", date(2026, 7, 1))
    assert codes(before)["T1"] == "520102002" and codes(after)["T1"] == "520102001"
    assert codes(before)["P1"] == codes(after)["P1"] == "520102001"  # schools of the survivor stay
    assert "T1" in codes(app.divisions.schools_as_of("520102002", date(2026, 6, 30)))
    assert app.divisions.schools_as_of("520102002", date(2026, 7, 1)) == []  # the merged township has no schools any more
    assert "520102002" not in {d["code"] for d in app.divisions.hierarchy("520102", date(2026, 7, 1))}
    # the school itself now belongs to the survivor, and other services are told from which date
    assert app.registration.school(county.special).township_code == "520102001"
    moved = [c for c in county.published() if c.event_name == "SchoolTownshipChanged"]
    assert len(moved) == 1 and moved[0].school_id == county.special
    assert (moved[0].from_township_code, moved[0].township_code, moved[0].effective) == (
        "520102002", "520102001", date(2026, 7, 1))
    assert moved[0].reason == "township_merged" and moved[0].division_code == "520102002"


def test_schools_open_and_close_on_their_dates(county):
    app = county.app
    view, _ = app.registration.register_school(code="P2", name="新开小学", level="primary", county_code="520102",
                                               township_code="520102003", opened_on=date(2026, 9, 1), meta=META)
    app.lifecycle.close_school(county.primary, on=date(2026, 8, 31), reason="撤并", merged_into=view.school_id, meta=META)
    summer = codes(app.divisions.schools_as_of("520102", date(2026, 8, 1)))
    autumn = codes(app.divisions.schools_as_of("520102", date(2026, 9, 1)))
    assert "P1" in summer and "P2" not in summer
    assert "P1" not in autumn and autumn["P2"] == "520102003"
    closed = {s["code"]: s for s in app.divisions.schools_as_of("520102", date(2026, 9, 1), include_closed=True)}
    assert closed["P1"]["status"] == "closed" and closed["P1"]["closed_on"] == date(2026, 8, 31)
    assert "X1" not in closed  # another county's school


def test_a_merge_into_a_township_that_has_ended_is_refused(county):
    app = county.app
    app.divisions.change_division(code="520102002", change="merge", target_code="520102001", effective=date(2026, 7, 1),
                                  meta=META)
    with pytest.raises(Conflict):
        app.divisions.change_division(code="520102003", change="merge", target_code="520102002", effective=date(2026, 8, 1),
                                      meta=META)
    assert codes(app.divisions.schools_as_of("520102", date(2026, 8, 1)))["T1"] == "520102001"


def test_a_village_is_established_as_an_event_with_its_date(county):
    app = county.app
    assert app.divisions.establish_division(code="520102001201", name="一村", level="village", parent_code="520102001",
                                            effective=date(2026, 3, 1), source="县政府文件", meta=META)
    assert not app.divisions.establish_division(code="520102001201", name="一村", level="village", parent_code="520102001",
                                                effective=date(2026, 3, 1), source="县政府文件", meta=META)
    assert "520102001201" not in {d["code"] for d in app.divisions.hierarchy("520102001", date(2026, 2, 28))}
    village = {d["code"]: d for d in app.divisions.hierarchy("520102001", date(2026, 3, 1))}["520102001201"]
    assert village["level"] == "village" and village["parent_code"] == "520102001"
    with pytest.raises(InvalidInput):
        app.divisions.establish_division(code="520102003201", name="错村", level="village", parent_code="520102001",
                                         effective=date(2026, 3, 1), source="x", meta=META)


# -- 2. thresholds per jurisdiction -------------------------------------------------------------------
def test_a_county_with_a_15_day_transfer_window_flags_earlier_than_the_default(county):
    app = county.app
    here = county.enrol(make_id("52010220160512003"))  # 南明区, sets 15 days
    there = county.enrol(make_id("52010320160512008"), school_id=county.far_school)  # 云岩区, keeps the default 30
    rules = app.comparisons.set_comparison_rules(jurisdiction="520102", body={"transfer_lost_days": 15}, default=RULES,
                                                 meta=META)
    assert (rules.version, rules.transfer_lost_days, rules.school_year_start) == (2, 15, (9, 1))
    for sid in (here, there):
        app.lifecycle.transfer_out(sid, on=date(2026, 9, 10), reason="随迁", to_school_id=None, to_region_code="44", meta=META)
    assert county.compare(date(2026, 9, 26), prefix="5201")["transfer_lost"]["identified"] == 1  # 16 days
    lost = [c for c in county.published() if c.event_name == "TransferLost"]
    assert [(x.student_id, x.days) for x in lost] == [(here, 15)]
    assert county.compare(date(2026, 10, 11), prefix="5201")["transfer_lost"]["identified"] == 1  # 31 days
    lost = [c for c in county.published() if c.event_name == "TransferLost"]
    assert [(x.student_id, x.days) for x in lost] == [(here, 15), (there, 30)]
    # each finding records the rule version that produced it
    history = {h["event"]: h for h in app.queries.child_history("520102", here) if h["aggregate"] == "Finding"}
    assert history["Identified"]["data"]["evidence"]["rule"] == {
        "jurisdiction": "520102", "version": 2, "transfer_lost_days": 15, "school_year_start": "09-01",
        "transition_deadline": None}
    far = {h["event"]: h for h in app.queries.child_history("5201", there) if h["aggregate"] == "Finding"}
    assert far["Identified"]["data"]["evidence"]["rule"]["version"] == 1


def test_the_most_specific_prefix_wins_and_each_change_is_a_new_version(county):
    app = county.app
    app.comparisons.set_comparison_rules(jurisdiction="52", body={"transfer_lost_days": 20}, default=RULES, meta=META)
    app.comparisons.set_comparison_rules(jurisdiction="520102", body={"transfer_lost_days": 15}, default=RULES, meta=META)
    again = app.comparisons.set_comparison_rules(jurisdiction="520102", body={"transfer_lost_days": 15}, default=RULES,
                                                 meta=META)
    assert again.version == 2  # the same thresholds: no new version
    changed = app.comparisons.set_comparison_rules(jurisdiction="520102", body={"transfer_lost_days": 10}, default=RULES,
                                                   meta=META)
    assert changed.version == 3
    assert app.comparisons.comparison_rules("520102001", RULES).transfer_lost_days == 10
    assert app.comparisons.comparison_rules("520103001", RULES).transfer_lost_days == 20
    assert app.comparisons.comparison_rules("530102", RULES) == RULES
    with pytest.raises(InvalidInput):
        app.comparisons.set_comparison_rules(jurisdiction="520102", body={"school_year_start": "02-30"}, default=RULES, meta=META)
    with pytest.raises(InvalidInput):
        app.comparisons.set_comparison_rules(jurisdiction="520102", body={"days": 3}, default=RULES, meta=META)


def test_a_county_sets_its_own_transition_deadline(county):
    app = county.app
    sid = county.enrol(make_id("52010220140301005"), grade=6)
    app.lifecycle.graduate(sid, on=date(2026, 7, 1), level="primary", meta=META)
    app.comparisons.set_comparison_rules(jurisdiction="520102", body={"transition_deadline": "09-15"}, default=RULES, meta=META)
    assert county.compare(date(2026, 9, 14))["transition_missed"]["identified"] == 0  # the default would flag
    assert county.compare(date(2026, 9, 15))["transition_missed"]["identified"] == 1
    missed = [c for c in county.published() if c.event_name == "TransitionMissed"]
    assert missed[0].graduated_on == date(2026, 7, 1)


def test_the_defaults_come_from_settings():
    settings = RegistrySettings(transfer_lost_days=21, school_year_start_month=8, school_year_start_day=28,
                                transition_deadline="09-10")
    assert settings.rules() == Rules(21, (8, 28), (9, 10), version=1, jurisdiction="")


def test_a_schools_file_may_give_opening_dates_and_a_bad_one_is_reported_with_its_line(county):
    header = "code,name,level,county_code,township_code,开办日期\n"
    bad = county.app.imports.import_schools((header + "N1,新一小,primary,520102,520102004,2026-09-01\n"
                                     "N2,新二小,primary,520102,520102004,2026-13-01\n").encode(), "schools.csv", META)
    assert not bad.imported and [(e.line, e.code) for e in bad.errors] == [(3, "opened_on_invalid")]
    good = county.app.imports.import_schools((header + "N1,新一小,primary,520102,520102004,2026/09/01\n").encode(),
                                             "schools.csv", META)
    assert good.imported and good.created == 1
    assert "N1" not in codes(county.app.divisions.schools_as_of("520102004", date(2026, 8, 31)))
    opened = {s["code"]: s for s in county.app.divisions.schools_as_of("520102004", date(2026, 9, 1))}["N1"]
    assert opened["opened_on"] == date(2026, 9, 1) and opened["status"] == "open"
