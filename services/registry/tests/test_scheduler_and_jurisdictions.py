"""The scheduled comparisons run on the injected clock; divisions change with effective dates."""

from datetime import date, datetime

import pytest

from services.registry.domain.errors import Conflict
from services.registry.entrypoints.scheduler import ComparisonScheduler
from services.registry.tests.stories import META, RULES, County, make_id
from services.runtime.clock import FixedClock


def test_the_daily_comparison_runs_once_a_day_at_its_hour_on_simulated_time():
    county = County()
    county.resident(make_id("52010220150807002"))
    clock = FixedClock(datetime(2026, 9, 14, 1, 0))
    scheduler = ComparisonScheduler(county.app.comparisons, clock, RULES, prefix="520102", hour=2)
    assert scheduler.tick() is None  # 01:00, not yet
    clock.advance(hours=1)
    assert scheduler.tick()["out_of_school"]["identified"] == 1
    clock.advance(hours=5)
    assert scheduler.tick() is None  # already ran today
    county.app.population.report_life_event(id_number=make_id("52010220150807002"), status="moved_away", on=date(2026, 9, 14),
                                            source="public_security", reference=None, to_region_code="44", meta=META)
    clock.advance(days=1)
    assert scheduler.tick()["out_of_school"] == {"identified": 0, "retracted": 1}
    found = [c for c in county.published() if c.event_name == "OutOfSchoolChildRetracted"]
    assert found[0].reason_code == "moved_away"


class CountingLastRun:
    """A stored last run that counts its reads (a second scheduler writes it behind the first's back)."""

    def __init__(self) -> None:
        self.day: date | None = None
        self.reads = 0

    def get(self) -> date | None:
        self.reads += 1
        return self.day

    def set(self, day: date) -> None:
        self.day = day


def test_an_idle_tick_reads_no_database_and_a_run_by_another_scheduler_is_not_repeated():
    county = County()
    county.resident(make_id("52010220150807002"))
    clock = FixedClock(datetime(2026, 9, 14, 1, 0))
    stored = CountingLastRun()
    scheduler = ComparisonScheduler(county.app.comparisons, clock, RULES, prefix="520102", hour=2, last_run=stored)
    assert scheduler.tick() is None and stored.reads == 0  # before the hour: nothing read
    clock.advance(hours=1)
    assert scheduler.tick() is not None and stored.day == date(2026, 9, 14)
    reads = stored.reads
    for _ in range(5):
        assert scheduler.tick() is None
    assert stored.reads == reads  # today's run known: idle ticks read nothing
    clock.advance(days=1)
    stored.day = date(2026, 9, 15)  # another scheduler (a second replica) ran today's comparisons first
    assert scheduler.tick() is None and stored.reads == reads + 1
    assert scheduler.tick() is None and stored.reads == reads + 1


@pytest.fixture(scope="module")
def guizhou():
    county = County()
    result = county.app.divisions.load_divisions(prefix="5201", meta=META)
    assert result["created"] > 100 and result["data_as_of"] == "2025-12-31"
    return county


def test_the_packaged_division_codes_load_once(guizhou):
    again = guizhou.app.divisions.load_divisions(prefix="5201", meta=META)
    assert again["created"] == 0 and again["unchanged"] > 100
    tree = {d["code"]: d for d in guizhou.app.divisions.hierarchy("520102", date(2026, 1, 1))}
    assert tree["520102"]["name"] == "南明区" and tree["520102"]["level"] == "county"
    assert tree["520102001"]["parent_code"] == "520102" and tree["520102001"]["level"] == "township"


def test_a_township_merge_takes_effect_on_its_date(guizhou):
    app = guizhou.app
    app.divisions.change_division(code="520102002", change="merge", target_code="520102001", effective=date(2026, 7, 1),
                                  meta=META)
    app.divisions.change_division(code="520102003", change="rename", name="新华街道(新)", effective=date(2026, 7, 1), meta=META)
    before = {d["code"]: d["name"] for d in app.divisions.hierarchy("520102", date(2026, 6, 30))}
    after = {d["code"]: d["name"] for d in app.divisions.hierarchy("520102", date(2026, 7, 1))}
    assert "520102002" in before and "520102002" not in after
    assert before["520102003"] != "新华街道(新)" and after["520102003"] == "新华街道(新)"
    with pytest.raises(Conflict):
        app.divisions.change_division(code="520102002", change="abolish", effective=date(2026, 8, 1), meta=META)


def test_population_imports_check_townships_against_the_loaded_divisions(guizhou):
    row = f"{make_id('52010220150807002')},王小明,2015-08-07,520102999\n"
    report = guizhou.app.imports.import_file(kind="population", content=("身份证号,姓名,出生日期,乡镇代码\n" + row).encode(),
                                             filename="x.csv", source="public_security", valid_only=False,
                                             today=date(2026, 9, 1), meta=META)
    assert report.errors[0].code == "unknown_township"
