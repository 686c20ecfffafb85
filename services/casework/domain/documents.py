"""Printable documents of a case (劝返通知书, 责令限期改正通知书, 家访记录, 一人一案档案): what was issued, its
verification code and the sha256 of its bytes, kept as events so a paper copy can be checked against the record.

A document is its own aggregate, named by its verification code (so the verify API needs no index): the code is
derived from the seal of the case event the document is for, which already hashes that event and every event
before it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from services.casework.domain.errors import Conflict, InvalidInput
from services.casework.domain.ids import NAMESPACE

KINDS = {  # kind -> title printed on the document
    "return_notice": "劝返复学通知书",
    "correction_order": "责令限期改正通知书",
    "visit_record": "家访记录",
    "case_file": "一人一案档案",
    "legal_documents": "提请依法发放司法文书函",
    "court_referral": "提请人民法院依法处理函",
}
# the notices and letters of the legal ladder: each is for its step's event
STEP_OF_KIND = {"return_notice": "return_notice", "correction_order": "correction_order",
                "legal_documents": "legal_documents", "court_referral": "court_referral"}
KINDS_V1 = ("return_notice", "correction_order", "visit_record", "case_file")  # what DocumentIssuedV1 can carry
WITHDRAWAL_REASONS = {
    "error_in_content": "内容有误",
    "reissued": "已重新签发",
    "served_wrongly": "送达对象有误",
    "other": "其他",
}
CID_SONG = "STSong-Light"  # reportlab's built-in CID font, not embedded: documents issued before the embedded font
EMBEDDED_HEI = "WenQuanYi-MicroHei"  # TrueType, subset-embedded: every document issued since
TYPEFACES = (CID_SONG, EMBEDDED_HEI)
CODE_LENGTH = 16  # base32 characters: 80 bits
CHINA = ZoneInfo("Asia/Shanghai")  # what a paper's dates are written in
_CODE = re.compile(r"^[A-Z2-7]{16}$")


def verification_code(kind: str, case_id: Any, source_version: int, source_seal: str) -> str:
    """Base32 of the first 80 bits of sha256("baoxue-document:v1|kind|case id|version|seal of the source event")."""
    text = f"baoxue-document:v1|{kind}|{case_id}|{source_version}|{source_seal}"
    return base64.b32encode(hashlib.sha256(text.encode()).digest()[:10]).decode()


def normalized_code(text: str) -> str:
    """A code as printed (groups of four, any case) back to its 16 characters; 422 when it cannot be one."""
    code = re.sub(r"[\s-]", "", text or "").upper()
    if not _CODE.match(code):
        raise InvalidInput("核验码格式无效（16位字母数字，可含连字符）", rule="document.code_format")
    return code


def printed_code(code: str) -> str:
    """The code as printed on paper: four groups of four."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def last_day(deadline_at: datetime | str | None) -> date | None:
    """A deadline kept as the end of its day (the next local midnight, ``CasePolicy.end_of_day``) as that day."""
    if deadline_at is None or deadline_at == "":
        return None
    moment = datetime.fromisoformat(deadline_at) if isinstance(deadline_at, str) else deadline_at
    return (moment - timedelta(microseconds=1)).astimezone(CHINA).date()


def document_id_for(code: str) -> uuid.UUID:
    """One document per verification code."""
    return uuid.uuid5(NAMESPACE, f"document:{code}")


def kind_title(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"文书类型无效: {kind}（可选：{'、'.join(KINDS)}）", rule="document.kind")
    return KINDS[kind]


@dataclass(frozen=True)
class DocumentFacts:
    """Everything a document prints, as plain data: the issue record, the case at the source event's version
    (a ``CaseView`` as a dict) and the stored events up to it (``HistoryEntry`` dicts)."""

    kind: str
    title: str
    case_id: str
    township_code: str
    issuing_body: str
    issued_at: datetime
    deadline: date | None
    code: str
    source_version: int
    case: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    typeface: str = EMBEDDED_HEI  # what the document is set in (part of its record: the bytes depend on it)


class CaseDocument(Aggregate):
    """One issued document: which case event it is for, who issued it, its bytes' sha256; later withdrawn or not."""

    @event("DocumentIssued")
    def __init__(self, code: str, case_id: str, township_code: str, kind: str, source_version: int,
                 source_event: str, record_id: str | None, issuing_body: str, deadline: date | None,
                 sha256: str, issued_at: datetime, meta: dict[str, Any], typeface: str = CID_SONG) -> None:
        """``typeface``: absent from documents issued before the embedded font, which were set in the CID font."""
        self.code = code
        self.case_id = case_id
        self.township_code = township_code
        self.kind = kind
        self.source_version = source_version
        self.source_event = source_event
        self.record_id = record_id
        self.issuing_body = issuing_body
        self.deadline = deadline
        self.sha256 = sha256
        self.issued_at = issued_at
        self.issued_by = meta.get("actor_id")
        self.typeface = typeface
        self.withdrawal: dict[str, Any] | None = None

    @staticmethod
    def create_id(code: str, **_: Any) -> uuid.UUID:
        return document_id_for(code)

    @property
    def status(self) -> str:
        return "withdrawn" if self.withdrawal else "valid"

    def withdraw(self, reason: str, note: str, meta: dict[str, Any]) -> bool:
        """作废: a withdrawn document stays on record (verify answers "withdrawn"); a second withdrawal is a no-op."""
        if reason not in WITHDRAWAL_REASONS:
            raise InvalidInput(f"作废原因代码无效: {reason}（可选：{'、'.join(WITHDRAWAL_REASONS)}）",
                               rule="document.withdrawal_reason")
        if self.withdrawal is not None:
            if self.withdrawal["reason"] != reason:
                raise Conflict("该文书已作废", rule="document.withdrawn_once")
            return False
        self._withdrawn(case_id=self.case_id, township_code=self.township_code, kind=self.kind, code=self.code,
                        reason=reason, note=(note or "").strip(), meta=meta)
        return True

    @event("DocumentWithdrawn")
    def _withdrawn(self, case_id: str, township_code: str, kind: str, code: str, reason: str, note: str,
                   meta: dict[str, Any]) -> None:
        """Carries the document's own facts, so the published contract needs no lookup."""
        self.withdrawal = {"reason": reason, "note": note, "at": meta.get("at"), "by": meta.get("actor_id")}
