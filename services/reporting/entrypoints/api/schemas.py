"""Response schemas of the reporting API (ledger pages, the walking-skeleton dashboard shapes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class Position(BaseModel):
    """The last event of a topic the figures reflect."""

    topic: str
    sequence: int = Field(description="Source event store sequence (notification id)")
    event_time: datetime


class LedgerRowPublic(BaseModel):
    case_id: str
    student_id: str
    name_masked: str | None
    id_number_masked: str | None
    grade: int | None = None
    school_id: str | None
    school_name: str | None
    township_code: str
    county_code: str
    source: str
    status: str
    causes: str | None = None
    gov_owners: str | None = Field(None, description="Government-line slots as stored: 'township=gov-001;village=…'")
    edu_owners: str | None = Field(None, description="Education-line slots as stored: 'head_teacher=ht-f9a0;…'")
    gov_owners_display: str | None = Field(None, description="For people: '政府线 乡镇干部：gov-001'")
    edu_owners_display: str | None = Field(None, description="For people: '教育线 班主任：ht-f9a0'")
    owners_display: str | None = Field(None, description="Both lines: '政府线 乡镇干部：gov-001；教育线 班主任：ht-f9a0'")
    legal_step: str | None = None
    opened_at: datetime
    verified_at: datetime | None = None
    returned_on: date | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    latest_action: str | None = None
    latest_action_at: datetime | None = None
    deadline_at: datetime | None = None
    deadline_status: str | None = None
    last_event_at: datetime
    visits: int = Field(0, description="Home visits recorded (家访次数)")
    last_visit_at: datetime | None = None
    persuasions: int = Field(0, description="Persuasion attempts recorded (劝返次数)")
    last_persuasion_outcome: str | None = Field(None, description="agreed_to_return / undecided / refused / unreachable")
    help_kinds: str | None = Field(None, description="Help categories given, comma-separated: 'subsidy,transport'")
    legal_document_no: str | None = Field(None, description="文书编号 of the current legal step")


class LedgerPage(BaseModel):
    items: list[LedgerRowPublic]
    total: int
    page: int
    page_size: int
    as_of: list[Position]
    positions: dict[str, Any]


class CountyFigures(BaseModel):
    county_code: str
    open_suspected_dropouts: int = Field(description="Cases at the suspected stage (疑似辍学), not yet verified")
    cases: int


class TownshipFigures(BaseModel):
    township_code: str
    open_suspected_dropouts: int
    cases: int


class CountiesPublic(BaseModel):
    counties: list[CountyFigures]
    as_of: list[Position]


class CountyPublic(CountyFigures):
    townships: list[TownshipFigures]
    as_of: list[Position]
    figures: dict[str, Any]
