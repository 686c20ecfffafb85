"""Imports of generated files (the benchmark's county generator, so here rather than in the service's tests)."""

from datetime import date

import pytest

from bench.registry.county import generate_county, schools_of
from services.registry.tests.stories import META, County

TODAY = date(2026, 9, 1)


@pytest.fixture
def county():
    return County()


def test_a_second_source_adds_its_record_to_the_same_children(county):
    generated = generate_county(200, seed=3)
    first = county.app.imports.import_file(kind="population", content=generated.population_csv(), filename="ga.csv",
                                           source="public_security", valid_only=False, today=TODAY, meta=META)
    second = county.app.imports.import_file(kind="population", content=generated.population_csv(), filename="mz.csv",
                                            source="civil_affairs", valid_only=False, today=TODAY, meta=META)
    assert first.created == 200 and second.changed == 200 and second.created == 0
    some = generated.population[0]["id_number"]
    assert {r["source"] for r in county.app.population.child_record(some).records.values()} == {"public_security",
                                                                                      "civil_affairs"}


def test_schools_import_all_or_nothing(county):
    rows = schools_of("520102", townships=2)
    text = "code,name,level,county_code,township_code\n" + "\n".join(
        ",".join(r[c] for c in ("code", "name", "level", "county_code", "township_code")) for r in rows)
    bad = text + "\nZ9,坏学校,college,520102,520102001\n"
    report = county.app.imports.import_schools(bad.encode(), "schools.csv", META)
    assert not report.imported and report.errors[0].line == 6 and report.errors[0].code == "school_level"
    report = county.app.imports.import_schools(text.encode(), "schools.csv", META)
    assert report.imported and report.created == 4
    assert county.app.imports.import_schools(text.encode(), "schools.csv", META).unchanged == 4
