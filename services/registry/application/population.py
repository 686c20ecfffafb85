"""The school-age population from several sources, linked by ID number, with provenance."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.registry.application.base import UseCase
from services.registry.domain.errors import NotFound
from services.registry.domain.population import Child, check_record, child_id_for, make_record, record_key
from services.registry.domain.registration import Student, normalise_id_number, student_id_for, validate_id_number


class Population(UseCase):
    """A source reports a child; life events, deferrals and merges of the population records."""

    def report_child(self, *, source: str, id_number: str, attributes: dict[str, Any],
                     flags: dict[str, dict[str, Any]], as_of: date, source_record_id: str | None,
                     meta: dict[str, Any]) -> tuple[Child, str]:
        """A source reports one child; returns the record and 'created', 'changed' or 'unchanged'."""
        id_number = normalise_id_number(id_number)
        validate_id_number(id_number)
        check_record(source, attributes, flags)
        record = make_record(source=source, key=record_key(source, id_number, source_record_id), as_of=as_of,
                             attributes=attributes, flags=flags)
        child = self._get(Child, child_id_for(id_number))
        if child is None:
            child = Child.register(id_number=id_number, record=record, meta=meta)
            outcome = "created"
        else:
            outcome = "changed" if child.report(record, meta) else "unchanged"
        self.store.save(child)
        return child, outcome

    def find_child_record(self, id_number: str) -> Child | None:
        """The population record of an ID number, or None when no source has reported the child yet."""
        return self._get(Child, child_id_for(id_number))

    def child_record(self, id_number: str) -> Child:
        child = self.find_child_record(id_number)
        if child is None:
            raise NotFound("适龄人口中没有该儿童", rule="child_exists")
        return child

    def report_life_event(self, *, id_number: str, status: str, on: date, source: str, reference: str | None,
                          to_region_code: str | None, meta: dict[str, Any]) -> bool:
        """公安通报: a death or move closes the child's registration too (both saved atomically)."""
        child = self.child_record(id_number)
        changed = child.report_life_event(status=status, on=on, source=source, reference=reference,
                                          to_region_code=to_region_code, meta=meta)
        student = self._get(Student, student_id_for(normalise_id_number(id_number)))
        if student is not None:
            changed = student.close(on=on, reason=status, source=source, reference=reference, meta=meta) or changed
        self.store.save(child, student)
        return changed

    def correct_life_event(self, *, id_number: str, reason: str, source: str, meta: dict[str, Any]) -> None:
        child = self.child_record(id_number)
        child.correct_life_event(reason=reason, source=source, meta=meta)
        self.store.save(child)

    def defer_enrolment(self, *, id_number: str, until: date, reason: str, approval_ref: str, approved_by: str,
                        today: date, meta: dict[str, Any]) -> None:
        child = self.child_record(id_number)
        child.defer(until=until, reason=reason, approval_ref=approval_ref, approved_by=approved_by, today=today,
                    meta=meta)
        self.store.save(child)

    def merge_children(self, *, survivor_id_number: str, other_id_number: str, reason: str,
                       meta: dict[str, Any]) -> None:
        survivor, other = self.child_record(survivor_id_number), self.child_record(other_id_number)
        survivor.absorb(other, reason=reason, meta=meta)
        self.store.save(survivor, other)

    def undo_merge(self, *, survivor_id_number: str, other_id_number: str, reason: str,
                   meta: dict[str, Any]) -> None:
        survivor, other = self.child_record(survivor_id_number), self.child_record(other_id_number)
        survivor.undo_merge(other, reason=reason, meta=meta)
        self.store.save(survivor, other)
