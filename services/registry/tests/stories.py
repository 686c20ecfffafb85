"""Shared cast for registry stories: a county with a primary and a junior school, children with valid IDs."""

from __future__ import annotations

from datetime import date

from services.registry.adapters.keys import DataKeys
from services.registry.adapters.publishing import to_contract
from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.registry.domain.comparisons import Rules
from services.registry.domain.registration import id_number_check_digit

META = {"actor_id": "officer-1", "actor_role": "county_officer", "jurisdiction": "520102", "correlation_id": "c1"}
RULES = Rules(transfer_lost_days=30)


def make_id(prefix17: str) -> str:
    return prefix17 + id_number_check_digit(prefix17)


def birth_of(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


class County:
    """An in-memory registry with schools in 南明区 and helpers to tell stories with."""

    def __init__(self, data_keys: DataKeys | None = None) -> None:
        self.app = Registry(RegistryApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, data_keys=data_keys))
        self.primary = self.school("P1", "primary", "520102001")
        self.junior = self.school("J1", "junior", "520102001")
        self.special = self.school("T1", "special", "520102002")
        self.far_school = self.school("X1", "primary", "520103001")

    def school(self, code: str, level: str, township: str) -> str:
        view, _ = self.app.registration.register_school(code=code, name=f"学校{code}", level=level, county_code=township[:6],
                                                        township_code=township, meta=META)
        return view.school_id

    def enrol(self, id_number: str, *, school_id: str | None = None, grade: int = 4, name: str = "王小明") -> str:
        view, _ = self.app.registration.enrol_student(today=date(2026, 9, 1), meta=META, id_number=id_number, name=name,
                                                      birth_date=birth_of(id_number), school_id=school_id or self.primary,
                                                      grade=grade, class_name=f"{grade}-1")
        return view.student_id

    def resident(self, id_number: str, *, source: str = "public_security", township: str = "520102001",
                 name: str = "王小明", flags: dict | None = None, as_of: date = date(2026, 7, 10), **attributes):
        attributes = {"name": name, "birth_date": birth_of(id_number), "township_code": township, **attributes}
        child, outcome = self.app.population.report_child(source=source, id_number=id_number, attributes=attributes,
                                                          flags=flags or {}, as_of=as_of, source_record_id=None, meta=META)
        self.last_outcome = outcome
        return child

    def compare(self, on: date, prefix: str = "520102", rules: Rules = RULES):
        return self.app.comparisons.run_comparisons(prefix=prefix, as_of=on, rules=rules, meta=META)

    def published(self) -> list:
        notes = self.app.store.recorder.select_notifications(start=1, limit=100_000)
        return [c for c in (to_contract(self.app.store.mapper.to_domain_event(n)) for n in notes) if c is not None]

    def published_types(self) -> list[str]:
        return [c.event_name for c in self.published()]


def wrong_id(prefix17: str) -> str:
    right = id_number_check_digit(prefix17)
    return prefix17 + ("0" if right != "0" else "1")
