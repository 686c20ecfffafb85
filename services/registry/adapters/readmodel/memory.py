"""The registry read model in dicts: the fake for in-memory tests and single-process tools."""

from __future__ import annotations

from typing import Any, Iterable

from services.registry.adapters.readmodel.rows import COLUMNS, apply, decoded, table_for
from services.registry.domain.blinding import scrub_erased
from services.registry.domain.comparisons import OpenFinding
from services.registry.domain.erasure import Erasure


class MemoryIndex:
    """The registry read model in dicts: a fake for in-memory tests and single-process tools."""

    def __init__(self, batch_size: int = 1000) -> None:
        self.batch_size = batch_size
        self.tables: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in COLUMNS}
        self.position = 0

    def catch_up(self, app: Any) -> int:
        while batch := app.recorder.select_notifications(start=self.position + 1, limit=self.batch_size):
            for e in decoded(app, batch):
                if isinstance(e, Erasure.Event):
                    for table, key in [("student_index", e.student_id)] + [
                            ("child_index", k) for k, _ in self.where("child_index", student_id=e.student_id)]:
                        if key in self.tables[table]:
                            self.tables[table][key] = scrub_erased(self.tables[table][key])
                    continue
                table = table_for(e)
                key = str(e.originator_id)
                new = apply(self.tables[table].get(key), e)
                if new is not None:
                    self.tables[table][key] = new
            self.position = batch[-1].id
        return self.position

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        return self.tables[table].get(key)

    def get_many(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        return {k: self.tables[table][k] for k in keys if k in self.tables[table]}

    def rows(self, table: str, prefix: str = "", field: str = "township_code",
             **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        return [(k, r) for k, r in self.tables[table].items() if (r.get(field) or "").startswith(prefix)
                and all(r.get(f) == v for f, v in equals.items())]

    def where(self, table: str, **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        return [(k, r) for k, r in self.tables[table].items() if all(r.get(f) == v for f, v in equals.items())]

    def census_candidates(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        """Children under `prefix` the census comparison can judge other than "registered, nothing to do": those
        without a registration that is not closed, and those with an open out-of-school finding."""
        students, findings = self.tables["student_index"], self.tables["finding_index"]
        flagged = {r["student_id"] for r in findings.values() if r["kind"] == "out_of_school" and r["open"]}
        return [(k, r) for k, r in self.rows("child_index", prefix)
                if r["student_id"] in flagged or students.get(r["student_id"], {}).get("status", "closed") == "closed"]

    def open_findings(self, kind: str, student_ids: Iterable[str] | None = None,
                      prefix: str | None = None) -> dict[str, OpenFinding]:
        wanted = set(student_ids) if student_ids is not None else None
        return {
            r["student_id"]: OpenFinding(k, kind, r["student_id"], r["episode"])
            for k, r in self.tables["finding_index"].items()
            if r["kind"] == kind and r["open"] and (wanted is None or r["student_id"] in wanted)
            and (prefix is None or r["township_code"].startswith(prefix))
        }

    def drop(self) -> None:
        self.tables = {t: {} for t in COLUMNS}
        self.position = 0
