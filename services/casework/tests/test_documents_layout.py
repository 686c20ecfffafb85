"""The document layout without a database: same facts give the same bytes, long text turns the page with the
footer on every page, values print as written, and codes read back however they are typed."""

import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pypdf
import pytest

from services.casework.adapters.documents import render_document
from services.casework.domain import InvalidInput
from services.casework.domain.documents import (
    DocumentFacts,
    normalized_code,
    printed_code,
    verification_code,
)

CODE = verification_code("visit_record", "case-1", 4, "ab" * 32)


def facts(findings: str = "孩子在家。") -> DocumentFacts:
    source = {"version": 4, "event": "HomeVisitRecorded", "data": {
        "record_id": "v-1", "visited_at": "2025-09-10T10:00:00+08:00", "visitors": ["cadre-1"], "met": ["祖母"],
        "findings": findings, "evidence": []}}
    return DocumentFacts(kind="visit_record", title="家访记录", case_id="case-1", township_code="520102001",
                         issuing_body="某镇人民政府", issued_at=datetime(2025, 9, 11, 2, tzinfo=UTC),
                         deadline=date(2025, 9, 18), code=CODE, source_version=4, case={}, source=source,
                         history=[source])


def pages_text(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_the_same_facts_give_the_same_bytes():
    assert render_document(facts()) == render_document(facts())
    assert render_document(facts()) != render_document(replace(facts(), issuing_body="另一镇人民政府"))


def test_long_findings_turn_the_page_and_every_page_has_the_code_and_its_number():
    pages = pages_text(render_document(facts("走访情况很长。" * 600)))
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert printed_code(CODE) in text and f"第 {number} 页" in text


def test_markup_and_control_characters_print_as_text():
    text = pages_text(render_document(facts("<font color=red>一</font>&lt;\x07二\u200b")))[0]
    assert "<font color=red>一</font>&lt;二" in text and "\x07" not in text


def test_a_code_reads_back_from_its_printed_form_and_nothing_else_is_a_code():
    assert len(CODE) == 16 and normalized_code(printed_code(CODE).lower()) == CODE
    assert normalized_code(f" {CODE[:8]} {CODE[8:]} ") == CODE
    for bad in ("", "0" * 16, CODE[:15], CODE + "A", "ABCD-EFGH-IJKL-MN01"):
        with pytest.raises(InvalidInput):
            normalized_code(bad)
