"""Finding children, their history, counts by grade — all by jurisdiction, names and ID numbers masked."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.registry.application.base import UseCase
from services.registry.domain.blinding import mask_birth_date, name_blind
from services.registry.domain.errors import NotFound
from services.registry.domain.population import child_id_for
from services.registry.domain.registration import mask_id_number, mask_name, normalise_id_number, student_id_for

PII_FIELDS = {"name", "id_number", "guardian_name", "guardian_phone", "other_id_number"}


class Queries(UseCase):
    """What officials read about children (the read model, and the events for a child's history)."""

    def find_children(self, prefix: str, *, id_number: str | None = None, name: str | None = None
                      ) -> list[dict[str, Any]]:
        self.index.catch_up(self.store)
        index = self.index
        sids: set[str] = set()
        if id_number:
            n = normalise_id_number(id_number)
            sids.add(str(student_id_for(n)))
        blinded = name_blind(name) if name else None  # exact name, through its blind index (no clear column)
        if blinded:
            sids |= {r["student_id"] for _, r in index.where("child_index", name_blind=blinded)}
            sids |= {k for k, _ in index.where("student_index", name_blind=blinded)}
        children = {r["student_id"]: r for r in self._existing("child_index", [
            str(child_id_for(id_number))] if id_number else []).values()}
        if blinded:
            children.update({r["student_id"]: r for _, r in index.where("child_index", name_blind=blinded)})
        students = self._existing("student_index", sorted(sids))
        out = []
        for sid in sorted(sids):
            child, student = children.get(sid), students.get(sid)
            if child is None and student is None:
                continue
            codes = [c for c in ((child or {}).get("township_code"), (student or {}).get("township_code")) if c]
            if not any(c.startswith(prefix) for c in codes):
                continue
            out.append({
                "student_id": sid,
                "name_masked": (child or student or {}).get("name_masked") or "*",
                "id_number_masked": (child or {}).get("id_number_masked"),
                "residence_township_code": (child or {}).get("township_code"),
                "population_status": (child or {}).get("status"),
                "special_groups": list((child or {}).get("flags") or []),
                "registration": None if student is None else {
                    k: student.get(k) for k in ("school_id", "township_code", "grade", "class_name", "status",
                                                 "placement")},
            })
        return out

    def child_history(self, prefix: str, student_id: str, id_number: str | None = None) -> list[dict[str, Any]]:
        """Every event about a child (registration, population record, findings) with source and actor."""
        self.index.catch_up(self.store)
        index = self.index
        child_rows = index.where("child_index", student_id=student_id)
        codes = self.child_jurisdictions(student_id, caught_up=True)
        if not codes:
            raise NotFound("没有该儿童", rule="child_exists")
        if not any(c.startswith(prefix) for c in codes):
            raise NotFound("没有该儿童", rule="child_exists")  # out of scope looks the same as absent
        ids = [UUID(student_id)] + [UUID(k) for k, _ in child_rows]
        ids += [UUID(k) for k, r in index.where("finding_index", student_id=student_id)]
        entries = []
        for aggregate_id in ids:
            for e in self.store.events.get(aggregate_id):
                entries.append(_history_entry(e))
        entries.sort(key=lambda x: (x["recorded_at"], x["version"]))
        return entries

    def child_jurisdictions(self, student_id: str, caught_up: bool = False) -> list[str]:
        """The child's own jurisdiction: the registration's township (学籍) while there is one, else the residence
        of the population record; a record another county files never widens who sees the child."""
        if not caught_up:
            self.index.catch_up(self.store)
        student = self.index.get("student_index", student_id)
        if student and student.get("township_code"):
            return [student["township_code"]]
        rows = [r for _, r in self.index.where("child_index", student_id=student_id)]
        return sorted({r["township_code"] for r in rows if r.get("township_code")})

    def grade_counts(self, prefix: str, by: str = "school") -> list[dict[str, Any]]:
        """Children in school (enrolled or suspended) by school or township and grade."""
        self.index.catch_up(self.store)
        key = "school_id" if by == "school" else "township_code"
        counts: dict[tuple[str, int], int] = {}
        for _, r in self.index.rows("student_index", prefix):
            if r["status"] in ("enrolled", "suspended"):
                counts[(r[key], r["grade"])] = counts.get((r[key], r["grade"]), 0) + 1
        out: dict[str, dict[str, Any]] = {}
        for (k, grade), n in sorted(counts.items()):
            entry = out.setdefault(k, {by: k, "total": 0, "by_grade": {}})
            entry["by_grade"][str(grade)] = n
            entry["total"] += n
        return list(out.values())


def _history_entry(e: Any) -> dict[str, Any]:
    meta = getattr(e, "meta", None) or {}
    data = {k: v for k, v in vars(e).items()
            if k not in ("originator_id", "originator_version", "timestamp", "meta", "originator_topic")}
    for k in list(data):
        if k in PII_FIELDS and isinstance(data[k], str):
            data[k] = mask_id_number(data[k]) if "id_number" in k else mask_name(data[k])
        elif k == "birth_date":
            data[k] = mask_birth_date(data[k])  # beside a masked ID number a full date gives the number back
        elif k == "record":
            data[k] = {**data[k], "attributes": {a: ("***" if a in PII_FIELDS else mask_birth_date(v)
                                                     if a == "birth_date" else v)
                                                 for a, v in data[k]["attributes"].items()}}
        elif k == "records":
            data[k] = len(data[k])
    return {
        "aggregate_id": str(e.originator_id),
        "aggregate": type(e).__qualname__.split(".")[0],
        "event": type(e).__name__,
        "version": e.originator_version,
        "recorded_at": e.timestamp,
        "at": meta.get("at"),
        "actor_id": meta.get("actor_id"),
        "actor_role": meta.get("actor_role"),
        "source": (data.get("record") or {}).get("source") or data.get("source") or meta.get("source"),
        "correlation_id": meta.get("correlation_id"),
        "data": data,
    }
