"""The July census comparison on a generated county finds exactly the children planted as out of school.

Here, not in services/registry/tests, because the county comes from the benchmark's generator (`bench/registry`),
which the service's own package may not import."""

from datetime import date

import pytest

from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from bench.registry.county import generate_county, schools_of
from services.registry.domain.comparisons import Rules
from services.registry.domain.registration import school_id_for, student_id_for
from services.registry.tests.stories import META
from services.runtime.testing import in_memory

TODAY = date(2026, 9, 1)


def import_county(app, children: int):
    county = generate_county(children, seed=11, out_of_school_ratio=0.01)
    for school in schools_of(county.code):
        app.registration.register_school(meta=META, **school)
    for kind, content in (("population", county.population_csv()), ("students", county.students_csv())):
        report = app.imports.import_file(kind=kind, content=content, filename=f"{kind}.csv", source="public_security",
                                         valid_only=False, today=TODAY, meta=META)
        assert report.imported and not report.errors, report.errors[:3]
    return county


def found(app, kind="out_of_school") -> set[str]:
    app.index.catch_up(app.store)
    return set(app.index.open_findings(kind))


def assert_census_finds_exactly_the_planted(app, county):
    summary = app.comparisons.run_comparisons(prefix="520102", as_of=date(2026, 9, 20), rules=Rules(), meta=META)
    planted = {str(student_id_for(i)) for i in county.planted_out_of_school}
    assert planted and summary["out_of_school"] == {"identified": len(planted), "retracted": 0}
    assert found(app) == planted
    again = app.comparisons.run_comparisons(prefix="520102", as_of=date(2026, 9, 21), rules=Rules(), meta=META)
    assert again["out_of_school"] == {"identified": 0, "retracted": 0}


def test_the_census_of_a_generated_county_finds_exactly_the_planted_children():
    app = Registry(in_memory(RegistryApp))
    county = import_county(app, 3_000)
    assert_census_finds_exactly_the_planted(app, county)
    one = sorted(county.planted_out_of_school)[0]
    birth = date(int(one[6:10]), int(one[10:12]), int(one[12:14]))
    grade = min(9, 2026 - birth.year - 6 + ((8, 31) >= (birth.month, birth.day)))
    school = school_id_for("520102P001" if grade <= 6 else "520102J001")
    app.registration.enrol_student(today=TODAY, meta=META, id_number=one, name="补录", school_id=school, grade=grade,
                                   birth_date=birth, class_name="补-1")  # persuaded back: registered
    result = app.comparisons.run_comparisons(prefix="520102", as_of=date(2026, 9, 22), rules=Rules(), meta=META)
    assert result["out_of_school"] == {"identified": 0, "retracted": 1}
    assert found(app) == {str(student_id_for(i)) for i in county.planted_out_of_school} - {str(student_id_for(one))}


@pytest.mark.integration
@pytest.mark.slow
def test_the_census_of_a_county_of_100000_children_on_postgresql(database_url):
    from services.registry.adapters.readmodel.postgres import PostgresIndex
    from services.registry.settings import RegistrySettings
    from services.runtime.db import Database
    from services.runtime.eventstore import build_application

    settings = RegistrySettings(database_url=database_url, env="test", db_pool_size=2)
    app = Registry(build_application(RegistryApp, settings, "registry_census"),
                   PostgresIndex(Database(database_url, "registry_census", size=2), batch_size=5000))
    county = import_county(app, 100_000)
    assert_census_finds_exactly_the_planted(app, county)


def candidates(app) -> set[str]:
    app.index.catch_up(app.store)
    return {r["student_id"] for _, r in app.index.census_candidates("520102")}


def registered_and_compared(app, county):
    """The census run once; one planted child then registered (open finding, registration): the census still
    reads that child (to retract), and after the retraction no longer."""
    assert_census_finds_exactly_the_planted(app, county)
    planted = {str(student_id_for(i)) for i in county.planted_out_of_school}
    assert candidates(app) == planted  # registered children with no open finding are not read at all
    one = sorted(county.planted_out_of_school)[0]
    birth = date(int(one[6:10]), int(one[10:12]), int(one[12:14]))
    grade = min(9, 2026 - birth.year - 6 + ((8, 31) >= (birth.month, birth.day)))
    app.registration.enrol_student(today=TODAY, meta=META, id_number=one, name="补录",
                                   school_id=school_id_for("520102P001" if grade <= 6 else "520102J001"), grade=grade,
                                   birth_date=birth, class_name="补-1")
    assert str(student_id_for(one)) in candidates(app)  # registered, but its finding is open: read to retract
    result = app.comparisons.run_comparisons(prefix="520102", as_of=date(2026, 9, 22), rules=Rules(), meta=META)
    assert result["out_of_school"] == {"identified": 0, "retracted": 1}
    assert candidates(app) == planted - {str(student_id_for(one))}


def test_the_census_reads_only_children_it_can_judge_in_memory():
    app = Registry(in_memory(RegistryApp))
    registered_and_compared(app, import_county(app, 3_000))


@pytest.mark.integration
def test_the_census_reads_only_children_it_can_judge_on_postgresql(database_url):
    from services.registry.adapters.readmodel.postgres import PostgresIndex
    from services.registry.settings import RegistrySettings
    from services.runtime.db import Database
    from services.runtime.eventstore import build_application

    settings = RegistrySettings(database_url=database_url, env="test", db_pool_size=2)
    app = Registry(build_application(RegistryApp, settings, "registry_census_candidates"),
                   PostgresIndex(Database(database_url, "registry_census_candidates", size=2), batch_size=5000))
    registered_and_compared(app, import_county(app, 3_000))
