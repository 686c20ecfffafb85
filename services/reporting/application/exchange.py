"""Exchange with the provincial platform: the cases ledger in the platform's layout, and the reconciliation of
the marks it sends back (疑似辍学标注) against the cases inside the caller's jurisdiction."""

from __future__ import annotations

from typing import Any, Protocol

from services.reporting.adapters import exports
from services.reporting.adapters.ledgers import KINDS
from services.reporting.adapters.queries import LedgerFilter
from services.reporting.application.reading import EXPORT_LIMIT, Export, Reading
from services.runtime.auth import Actor

OPEN = ("suspected", "confirmed", "legal")  # a case the platform should mark as 疑似辍学


class PlatformMapping(Protocol):
    """The platform's layout and marks sheet (``adapters.exchange.Mapping``)."""

    version: str
    export: dict[str, Any]

    def to_xlsx(self, rows: Any, caption: str) -> bytes: ...

    def read_marks(self, body: bytes) -> list[dict[str, Any]]: ...

    def platform_status(self, stage: str | None) -> str | None: ...


class ProvincialExchange:
    """Use cases over the ledger reads and the mapping file (collaborators from the bootstrap)."""

    def __init__(self, reads: Reading, mapping: PlatformMapping) -> None:
        self.reads, self.mapping = reads, mapping

    def _cases(self, actor: Actor) -> dict[str, Any]:
        return self.reads.ledger(actor, self.mapping.export["ledger"], LedgerFilter(), 1, EXPORT_LIMIT,
                                 "opened_at", None)

    def export(self, actor: Actor) -> Export:
        """Every case inside the caller's jurisdiction as the platform's XLSX (its first line says what it reflects)."""
        result = self._cases(actor)
        caption = exports.caption(KINDS[self.mapping.export["ledger"]], result["positions"], actor.jurisdiction)
        caption = f"{self.mapping.export['title']}（格式版本 {self.mapping.version}）｜{caption}"
        stamp = self.reads.clock.today().isoformat()
        return Export(result["items"], self.mapping.to_xlsx(result["items"], caption),
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      f"provincial-{actor.jurisdiction}-{stamp}.xlsx")

    def reconcile(self, actor: Actor, body: bytes) -> dict[str, Any]:
        """Differences between the platform's marks and the cases: marked but no open case, open case not
        marked, status differs. Nothing is written; the answer lists case and student ids only."""
        marks = self.mapping.read_marks(body)
        cases = self._cases(actor)["items"]
        by_student: dict[str, dict[str, Any]] = {}
        for c in cases:  # opened_at ascending: the latest case of a child wins, an open one over a closed one
            held = by_student.get(c["student_id"])
            if held is None or c["status"] in OPEN or held["status"] not in OPEN:
                by_student[c["student_id"]] = c
        seen: set[str] = set()
        marked_without_case, status_differs = [], []
        for m in marks:
            seen.add(m["key"])
            case = by_student.get(m["key"])
            if m["marked"] and (case is None or case["status"] not in OPEN):
                marked_without_case.append({"row": m["row"], "student_id": m["key"],
                                            "platform_status": m["platform_status"],
                                            "case_id": case["case_id"] if case else None,
                                            "case_status": case["status"] if case else None})
            elif case is not None and m["platform_status"] and \
                    m["platform_status"] != self.mapping.platform_status(case["status"]):
                status_differs.append({"row": m["row"], "student_id": m["key"], "case_id": case["case_id"],
                                       "platform_status": m["platform_status"], "case_status": case["status"],
                                       "expected_platform_status": self.mapping.platform_status(case["status"])})
        marked = {m["key"] for m in marks if m["marked"]}
        case_not_marked = [{"student_id": s, "case_id": c["case_id"], "case_status": c["status"],
                            "township_code": c["township_code"], "in_file": s in seen}
                           for s, c in sorted(by_student.items()) if c["status"] in OPEN and s not in marked]
        shown = [by_student[d["student_id"]] for d in (*status_differs, *case_not_marked)] + \
            [by_student[d["student_id"]] for d in marked_without_case if d["case_id"]]
        return {"mapping_version": self.mapping.version, "rows": len(marks), "marked": len(marked),
                "open_cases": sum(1 for c in by_student.values() if c["status"] in OPEN),
                "marked_without_case": marked_without_case, "case_not_marked": case_not_marked,
                "status_differs": status_differs, "_shown": shown}
