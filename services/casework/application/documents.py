"""Issuing a case's printable documents: find the case event a document is for, derive its verification code
from that event's seal, render the PDF, record its sha256 (DocumentIssued); fetch, withdraw and verify by code."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from services.casework.application.base import CaseStore, at_of
from services.casework.application.views import case_view, history_entry
from services.casework.domain import Conflict, InvalidInput, NotFound
from services.casework.domain.chain import canonical
from services.casework.domain.codes import STEP_LABELS
from services.casework.domain.documents import (
    EMBEDDED_HEI,
    STEP_OF_KIND,
    CaseDocument,
    DocumentFacts,
    document_id_for,
    kind_title,
    last_day,
    normalized_code,
    verification_code,
)

Renderer = Callable[[DocumentFacts], bytes]
MAX_EDITIONS = 20  # reissues of one kind for one event after withdrawals

# the stored events of a legal step: one per step since issue 12, the generic one before it
LEGAL_STEP_EVENTS = frozenset({"ReturnNoticeIssued", "CorrectionOrderIssued", "LegalDocumentsIssued", "CourtReferralMade",
                               "LegalStepTaken"})


@dataclass(frozen=True)
class Issued:
    """The answer to an issue: the document and whether this call issued it or it had been issued before."""

    outcome: str  # "issued" | "existing"
    document: CaseDocument


class DocumentUseCases:
    """Documents are rendered again from the record on every fetch; the bytes must equal the recorded sha256."""

    def __init__(self, store: CaseStore, render: Renderer) -> None:
        self.store = store
        self.render = render

    def issue(self, case_id: UUID, kind: str, *, record_id: str | None, issuing_body: str | None,
              meta: dict[str, Any]) -> Issued:
        """Issues the document of a kind for its case event; the same event again gives back the valid one."""
        kind_title(kind)

        def attempt() -> Issued:
            case = self.store.case(case_id)
            source = self._source(case_id, kind, record_id)
            seal = source.meta.get("chain") or hashlib.sha256(canonical(asdict(history_entry(source)))).hexdigest()
            for edition in range(1, MAX_EDITIONS + 1):
                code = verification_code(kind, case_id, source.originator_version, seal + (f":{edition}" if edition > 1 else ""))
                existing = self.store.get(CaseDocument, document_id_for(code))
                if existing is None:
                    break
                if existing.status == "valid":
                    return Issued("existing", existing)
            else:
                raise Conflict("该文书作废重开次数过多", rule="document.editions")
            issued_at = at_of(meta)
            body = (issuing_body or "").strip() or default_issuing_body(kind, case.township_code)
            deadline = self._deadline(kind, source, case_id)
            facts = self._facts(case_id, kind, code, source.originator_version, case.township_code, body,
                                issued_at, deadline, EMBEDDED_HEI)
            pdf = self.render(facts)
            document = CaseDocument(
                code=code, case_id=str(case_id), township_code=case.township_code, kind=kind,
                source_version=source.originator_version, source_event=type(source).__name__,
                record_id=record_id if kind == "visit_record" else None, issuing_body=body, deadline=deadline,
                sha256=hashlib.sha256(pdf).hexdigest(), issued_at=issued_at, meta=meta, typeface=facts.typeface)
            return Issued("issued", document)

        def save(result: Issued) -> None:
            if result.outcome == "issued":
                self.store.save(result.document)

        return self.store.retrying(attempt, save)

    def document(self, code: str) -> CaseDocument:
        doc = self.store.get(CaseDocument, document_id_for(normalized_code(code)))
        if doc is None:
            raise NotFound("未找到该核验码对应的文书", rule="document_exists")
        return doc

    def pdf(self, doc: CaseDocument) -> bytes:
        """The document's bytes, rendered again from the record; never bytes other than those recorded."""
        pdf = self.render(self.facts(doc))
        if hashlib.sha256(pdf).hexdigest() != doc.sha256:
            raise Conflict("文书内容与签发记录的摘要不一致，请联系管理员", rule="document.bytes_match_record")
        return pdf

    def facts(self, doc: CaseDocument) -> DocumentFacts:
        """What an issued document prints, from its record and the case's events up to its source version."""
        return self._facts(UUID(doc.case_id), doc.kind, doc.code, doc.source_version, doc.township_code,
                           doc.issuing_body, doc.issued_at, doc.deadline, doc.typeface)

    def withdraw(self, code: str, reason: str, note: str, meta: dict[str, Any]) -> CaseDocument:
        """作废 a document (verify then answers withdrawn); a repeat is harmless."""

        def attempt() -> CaseDocument:
            doc = self.document(code)
            doc.withdraw(reason, note, meta)
            return doc

        return self.store.retrying(attempt, lambda doc: self.store.save(doc))

    def _source(self, case_id: UUID, kind: str, record_id: str | None) -> Any:
        """The stored case event a document is for."""
        events = list(self.store.app.events.get(case_id))
        if kind in STEP_OF_KIND:
            step = STEP_OF_KIND[kind]
            found = [e for e in events if type(e).__name__ in LEGAL_STEP_EVENTS and e.step == step]
            if not found:
                raise Conflict(f"本案件尚未办理「{STEP_LABELS[step]}」，不能出具该文书", rule="document.step_taken")
            return found[-1]
        if kind == "visit_record":
            if not record_id:
                raise InvalidInput("家访记录须指明 record_id（家访的记录编号）", rule="document.record_id_required")
            found = [e for e in events if type(e).__name__ == "HomeVisitRecorded" and e.record_id == record_id]
            if not found:
                raise NotFound("本案件没有该家访记录", rule="document.visit_exists")
            return found[-1]
        return events[-1]

    def _deadline(self, kind: str, source: Any, case_id: UUID) -> date | None:
        """A legal notice's deadline is its step's; other documents print the case's next due date then."""
        if kind in STEP_OF_KIND:
            return last_day(source.deadline_at)
        view = case_view(self.store.case(case_id, version=source.originator_version))
        return last_day(view.next_due_at)

    def _facts(self, case_id: UUID, kind: str, code: str, version: int, township_code: str, issuing_body: str,
               issued_at: datetime, deadline: date | None, typeface: str) -> DocumentFacts:
        case = self.store.case(case_id, version=version)
        history = [asdict(history_entry(e)) for e in self.store.app.events.get(case_id, lte=version)]
        return DocumentFacts(kind=kind, title=kind_title(kind), case_id=str(case_id), township_code=township_code,
                             issuing_body=issuing_body, issued_at=issued_at, deadline=deadline, code=code,
                             source_version=version, case=asdict(case_view(case)), source=history[-1],
                             history=history, typeface=typeface)



def default_issuing_body(kind: str, township_code: str) -> str:
    """When the request names no body: the one the law names for the kind, by its code."""
    if kind in ("correction_order", "legal_documents", "court_referral"):
        return f"县级人民政府教育行政部门（行政区划代码 {township_code[:6]}）"
    if kind == "case_file":
        return f"县级控辍保学工作领导小组（行政区划代码 {township_code[:6]}）"
    return f"乡镇人民政府（行政区划代码 {township_code[:9]}）"
