"""Casework API: a case's printable documents (issue, fetch the PDF, withdraw) and the public verification by code."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from services.casework.application import CaseworkApp
from services.casework.domain import Forbidden, NotFound
from services.casework.domain.documents import CHINA, KINDS, WITHDRAWAL_REASONS, CaseDocument, printed_code
from services.casework.roles import DOCUMENT_ISSUERS
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.readaudit import Reader, Subject, reading
from services.runtime.validation import SafeId, SafeLine, SafeText
from services.runtime.web import CommandMeta

Kind = Literal[tuple(KINDS)]  # type: ignore[valid-type]


class DocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    record_id: SafeId | None = Field(None, min_length=1, max_length=64,
                                     description="visit_record: the home visit's record id (its record)")
    issuing_body: SafeLine | None = Field(None, min_length=1, max_length=100,
                                          description="签发机关, e.g. 某某镇人民政府; default: the body the law names")


class WithdrawalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Literal[tuple(WITHDRAWAL_REASONS)]  # type: ignore[valid-type]
    note: SafeText = Field("", max_length=1000)


class DocumentPublic(BaseModel):
    document_id: str
    verification_code: str = Field(description="16 base32 characters (printed in groups of four)")
    printed_code: str
    case_id: str
    kind: str
    title: str
    issuing_body: str
    issued_at: datetime
    deadline: date | None
    sha256: str = Field(description="sha256 of the PDF's bytes, recorded as evidence in DocumentIssued")
    source_version: int = Field(description="The case event (version) the document is for")
    source_event: str
    status: Literal["valid", "withdrawn"]
    withdrawal: dict[str, Any] | None = None
    pdf_url: str
    verify_url: str


class DocumentVerification(BaseModel):
    """What anyone holding the paper may learn from its code: no names, no ID numbers, no addresses."""

    verification_code: str
    status: Literal["valid", "withdrawn"]
    kind: str
    title: str
    case_id: str = Field(description="The case number printed on the document")
    issuing_body: str
    issued_on: date
    deadline: date | None
    withdrawn_on: date | None = None
    sha256: str = Field(description="Compare with sha256 of the PDF file you hold")
    recorded_event: dict[str, Any] = Field(description="The case event the document is for: version and event name")


def public(doc: CaseDocument) -> DocumentPublic:
    return DocumentPublic(
        document_id=str(doc.id), verification_code=doc.code, printed_code=printed_code(doc.code), case_id=doc.case_id,
        kind=doc.kind, title=KINDS[doc.kind], issuing_body=doc.issuing_body, issued_at=doc.issued_at,
        deadline=doc.deadline, sha256=doc.sha256, source_version=doc.source_version, source_event=doc.source_event,
        status=doc.status, withdrawal=doc.withdrawal, pdf_url=f"/v1/cases/{doc.case_id}/documents/{doc.code}.pdf",
        verify_url=f"/v1/documents/verify/{doc.code}")


def local_day(value: datetime | str | None) -> date | None:
    """A moment as the day it was in China (what the paper shows)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(CHINA).date()


def verification(doc: CaseDocument) -> DocumentVerification:
    return DocumentVerification(
        verification_code=doc.code, status=doc.status, kind=doc.kind, title=KINDS[doc.kind], case_id=doc.case_id,
        issuing_body=doc.issuing_body, issued_on=local_day(doc.issued_at), deadline=doc.deadline,
        withdrawn_on=local_day((doc.withdrawal or {}).get("at")),
        sha256=doc.sha256, recorded_event={"case_version": doc.source_version, "event": doc.source_event})


def documents_router(casework: CaseworkApp) -> APIRouter:
    """Scope first (the case's township), then the document, then the rules; a code of another case is a 404."""
    router = APIRouter(prefix="/v1", tags=["casework: documents"])

    def scoped_case(case_id: uuid.UUID, actor: Any) -> Any:
        case = casework.queries.case(case_id)
        require_scope(actor, case.township_code, "案件")
        return case

    def case_document(case_id: uuid.UUID, code: str) -> CaseDocument:
        doc = casework.documents.document(code)
        if doc.case_id != str(case_id):
            raise NotFound("未找到该核验码对应的文书", rule="document_exists")
        return doc

    @router.post("/cases/{case_id}/documents/{kind}", response_model=DocumentPublic, status_code=201,
                 responses={200: {"model": DocumentPublic}}, summary="出具文书（同一记录重复请求得到同一份文书）")
    def issue_document(case_id: uuid.UUID, kind: Kind, body: DocumentCreate, actor: CurrentActor, meta: CommandMeta,
                       response: Response) -> DocumentPublic:
        scoped_case(case_id, actor)
        issued = casework.documents.issue(case_id, kind, record_id=body.record_id, issuing_body=body.issuing_body,
                                          meta=meta)
        response.status_code = 201 if issued.outcome == "issued" else 200
        response.headers["Location"] = f"/v1/cases/{case_id}/documents/{issued.document.code}.pdf"
        return public(issued.document)

    @router.get("/cases/{case_id}/documents/{code}.pdf", response_class=Response, summary="文书 PDF",
                responses={200: {"content": {"application/pdf": {}}}})
    def document_pdf(case_id: uuid.UUID, code: str, actor: CurrentActor,
                     reader: Annotated[Reader, reading("casework")]) -> Response:
        case = scoped_case(case_id, actor)
        doc = case_document(case_id, code)
        pdf = casework.documents.pdf(doc)
        reader.viewed("case_document", [Subject(case.township_code, student_id=case.student_id, case_id=str(case.id))])
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{doc.kind}-{doc.code}.pdf"', "X-Document-Sha256": doc.sha256,
            "Cache-Control": "private, no-store"})

    @router.post("/cases/{case_id}/documents/{code}/withdrawal", response_model=DocumentPublic, summary="作废文书")
    def withdraw_document(case_id: uuid.UUID, code: str, body: WithdrawalCreate, actor: CurrentActor,
                          meta: CommandMeta) -> DocumentPublic:
        scoped_case(case_id, actor)
        doc = case_document(case_id, code)
        issuers = DOCUMENT_ISSUERS.rows[doc.kind]
        if not (actor.role in issuers.grants or (actor.role == "admin" and issuers.admin)):
            raise Forbidden(f"角色 {actor.role} 不能作废{KINDS[doc.kind]}（仅限可出具该文书的角色）",
                            rule="document.withdraw_role")
        return public(casework.documents.withdraw(code, body.reason, body.note, meta))

    @router.get("/documents/verify/{code}", response_model=DocumentVerification, summary="文书核验（公开）")
    def verify_document(code: str) -> DocumentVerification:
        return verification(casework.documents.document(code))

    return router
