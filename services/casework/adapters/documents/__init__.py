"""Printable casework documents as PDF (Simplified Chinese): one module per kind on the shared layout."""

from __future__ import annotations

from collections.abc import Callable

from services.casework.adapters.documents import (
    case_file,
    correction_order,
    court_referral,
    legal_documents,
    return_notice,
    visit_record,
)
from services.casework.adapters.documents.layout import Page, render
from services.casework.domain.documents import DocumentFacts

BODIES: dict[str, Callable[[Page, DocumentFacts], None]] = {
    "return_notice": return_notice.body,
    "correction_order": correction_order.body,
    "visit_record": visit_record.body,
    "case_file": case_file.body,
    "legal_documents": legal_documents.body,
    "court_referral": court_referral.body,
}


def render_document(facts: DocumentFacts) -> bytes:
    """The PDF of one issued document; the same facts always give the same bytes."""
    body = BODIES[facts.kind]
    return render(facts, lambda page: body(page, facts))


__all__ = ["BODIES", "render_document"]
