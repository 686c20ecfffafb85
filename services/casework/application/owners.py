"""双线四包 use cases: responsibility maps, the registry's placements, and filling a case's owner slots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from services.casework.adapters.placements import PlacementRows
from services.casework.application.base import CaseStore
from services.casework.domain import Case, NotFound, Placement, ResponsibilityMap
from services.casework.domain.ids import responsibility_map_id_for
from services.casework.domain.owners import resolve


class OwnerUseCases:
    """Who holds which slot: the township's map first, the registry's class head teacher where the map is silent."""

    def __init__(self, store: CaseStore, placements: PlacementRows) -> None:
        self.store = store
        self.placements = placements

    def put_responsibilities(self, township_code: str, entries: list[dict[str, Any]], *, replace: bool, source: str,
                             meta: dict[str, Any]) -> ResponsibilityMap:
        def attempt() -> ResponsibilityMap:
            rmap = self.responsibility_map(township_code) or ResponsibilityMap(township_code=township_code, meta=meta)
            rmap.put(entries, replace=replace, source=source, meta=meta)
            return rmap

        return self.store.retrying(attempt, lambda m: self.store.save(m))

    def remove_responsibility(self, township_code: str, key: str, meta: dict[str, Any]) -> ResponsibilityMap:
        def attempt() -> ResponsibilityMap:
            rmap = self.responsibility_map(township_code)
            if rmap is None or not rmap.remove(key, meta):
                raise NotFound("责任表条目不存在", rule="map.entry_exists")
            return rmap

        return self.store.retrying(attempt, lambda m: self.store.save(m))

    def responsibility_map(self, township_code: str) -> ResponsibilityMap | None:
        return self.store.get(ResponsibilityMap, responsibility_map_id_for(township_code))

    # -- the registry's placements (student -> school, class, head teacher): a lookup table, not aggregates ----
    def placement(self, student_id: str) -> Placement | None:
        return self.placements.get(student_id)

    def place_student(self, *, student_id: str, school_id: str, township_code: str, grade: int | None,
                      class_name: str | None, head_teacher_id: str | None, head_teacher_name: str | None,
                      registry_version: int | None, event_id: str, event_time: datetime) -> list[Aggregate]:
        """Enrolled, transferred in or admitted: remember where the student is and who the head teacher is (a row
        the consumer's batch writes with its position; no aggregate)."""
        fields = {"school_id": school_id, "township_code": township_code, "grade": grade, "class_name": class_name,
                  "head_teacher_id": head_teacher_id, "head_teacher_name": head_teacher_name,
                  "registry_version": registry_version, "event_id": event_id, "event_time": event_time}
        placement = self.placement(student_id)
        placed = Placement(student_id=student_id, active=True, **fields) if placement is None \
            else placement.place(**fields)
        if placed is not None:
            self.placements.put(student_id, placed)
        return []

    def student_left(self, *, student_id: str, registry_version: int | None, event_id: str,
                     event_time: datetime) -> list[Aggregate]:
        """注销学籍: the placement no longer names a head teacher."""
        placement = self.placement(student_id)
        left = placement.leave(registry_version=registry_version, event_id=event_id, event_time=event_time) \
            if placement is not None else None
        if left is not None:
            self.placements.put(student_id, left)
        return []

    def assign_from_map(self, case: Case, meta: dict[str, Any]) -> list[str]:
        """Fills a case's empty slots: the map's most specific entry, the registry's head teacher below a
        student entry; a case without a school uses the placement's school for the school's entries."""
        rmap = self.responsibility_map(case.township_code)
        placement = self.placement(case.student_id)
        head_teacher = placement.head_teacher_for(case.school_id) if placement else None
        school_id = case.school_id or (placement.school_id if placement and placement.active else None)
        if rmap is None and head_teacher is None:
            return []
        home = case.home or {}
        found = resolve(list(rmap.entries.values()) if rmap else [], student_id=case.student_id, school_id=school_id,
                        village_code=home.get("village_code") or _village(case.township_code),
                        group=home.get("group"), class_head_teacher=head_teacher)
        return case.assign_owners(found, meta)


def _village(code: str) -> str | None:
    return code if len(code) == 12 else None
