"""Casework's printable documents (劝返通知书, 责令限期改正通知书, 家访记录, 一人一案档案): issued and withdrawn.

Apart from ``casework.py`` so that the contracts of the legal steps and these evolve independently; published on
``baoxue.casework.v1`` (casework issues them). No names, addresses or ID numbers: a document is known by its
case, kind, verification code and the sha256 of its bytes.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Id, JurisdictionCode

DocumentKind = Literal["return_notice", "correction_order", "visit_record", "case_file"]
VerificationCode = Field(pattern=r"^[A-Z2-7]{16}$", description="base32 of the first 80 bits of the document "
                         "code hash (see the casework README, Documents)")


class DocumentIssuedV1(Contract):
    """A printable document of a case was issued; its bytes' sha256 is the evidence a paper copy is checked by."""

    topic = topics.CASEWORK
    document_id: Id
    case_id: Id
    township_code: JurisdictionCode
    kind: DocumentKind
    verification_code: str = VerificationCode
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the PDF bytes")
    source_version: int = Field(ge=1, description="The version of the case event the document is for")
    deadline: date | None = Field(description="The deadline the document sets or shows (its last day)")
    issued_at: datetime


class DocumentWithdrawnV1(Contract):
    """An issued document was withdrawn (作废); its code now verifies as withdrawn."""

    topic = topics.CASEWORK
    document_id: Id
    case_id: Id
    township_code: JurisdictionCode
    kind: DocumentKind
    verification_code: str = VerificationCode
    reason: Literal["error_in_content", "reissued", "served_wrongly", "other"]
    withdrawn_at: datetime


# Version 2 (issue 12, the ladder's later steps): the kinds version 1 cannot carry. Casework publishes version 1 for
# the four kinds it always had (its consumers see nothing new) and version 2 for the letters of the later legal
# steps; a consumer of every document reads both.
DocumentKindV2 = Literal["return_notice", "correction_order", "visit_record", "case_file", "legal_documents",
                         "court_referral"]


class DocumentIssuedV2(Contract):
    """As ``DocumentIssuedV1``, for every kind: also 提请发放司法文书函 and 提请人民法院依法处理函."""

    topic = topics.CASEWORK
    document_id: Id
    case_id: Id
    township_code: JurisdictionCode
    kind: DocumentKindV2
    verification_code: str = VerificationCode
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the PDF bytes")
    source_version: int = Field(ge=1, description="The version of the case event the document is for")
    deadline: date | None = Field(description="The deadline the document sets or shows (its last day)")
    issued_at: datetime


class DocumentWithdrawnV2(Contract):
    """As ``DocumentWithdrawnV1``, for every kind."""

    topic = topics.CASEWORK
    document_id: Id
    case_id: Id
    township_code: JurisdictionCode
    kind: DocumentKindV2
    verification_code: str = VerificationCode
    reason: Literal["error_in_content", "reissued", "served_wrongly", "other"]
    withdrawn_at: datetime
