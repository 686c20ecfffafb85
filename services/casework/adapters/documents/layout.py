"""The page every casework document shares: A4, Song type, title, the facts block, wrapped text, blanks to fill in
by hand, signature lines and a footer with the verification code — rendered to the same bytes every time.

Text is drawn with the canvas's plain-text calls (never reportlab's Paragraph markup), so a value is printed as
given and cannot become markup; control characters are dropped on top of the API's own refusal.
Fonts: WenQuanYi Micro Hei (文泉驿微米黑, TrueType, from the PyPI package ``paperang-p2-fonts-cjk``, located and
registered by ``services.runtime.fonts``), subset and embedded by reportlab, so any viewer shows the glyphs;
documents issued before the embedded font keep reportlab's
built-in CID font ``STSong-Light`` (not embedded), because their recorded sha256 is of those bytes (the typeface
is part of the issue record, ``DocumentFacts.typeface``). Either way the text extracts (pypdf, pdfium) as Unicode. Determinism: ``invariant`` mode (fixed document id derived from the
content) and a creation date taken from the issue record, never from the clock.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from services.casework.domain.documents import CHINA, CID_SONG, EMBEDDED_HEI, DocumentFacts, last_day, printed_code
from services.runtime.fonts import cjk_font

WIDTH, HEIGHT = A4
LEFT, RIGHT, TOP, BOTTOM = 22 * mm, WIDTH - 22 * mm, HEIGHT - 24 * mm, 26 * mm
VERIFY_PATH = "/v1/documents/verify/"


pdfmetrics.registerFont(UnicodeCIDFont(CID_SONG))
# a document's recorded typeface -> the reportlab font it is set in
FACES = {CID_SONG: CID_SONG, EMBEDDED_HEI: cjk_font()}
FONT = FACES[EMBEDDED_HEI]  # what new documents are set in


def clean(value: Any) -> str:
    """A value as printable text: None as a dash, control characters dropped."""
    if value is None or value == "":
        return "—"
    text = str(value)
    return "".join(ch for ch in text if ch in "\n" or unicodedata.category(ch)[0] != "C")


def day_text(value: date | datetime | str | None) -> str:
    """A date as printed (2025年9月15日), a datetime in China's time zone."""
    if value is None or value == "":
        return "无"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(CHINA).date() if value.tzinfo else value.date()
    return f"{value.year}年{value.month}月{value.day}日"


def deadline_text(deadline_at: datetime | str | None) -> str:
    """A deadline kept as the end of its day printed as that last day."""
    return day_text(last_day(deadline_at))


def time_text(value: datetime | str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(CHINA) if value.tzinfo else value
    return f"{day_text(local.date())} {local:%H:%M}"


class Page:
    """A cursor over the pages of one document: writes lines top to bottom and turns the page when full."""

    def __init__(self, canvas: Canvas, facts: DocumentFacts) -> None:
        self.c = canvas
        self.facts = facts
        self.font = FACES[facts.typeface]
        self.y = TOP
        self.number = 1

    def need(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.footer()
            self.c.showPage()
            self.number += 1
            self.y = TOP

    def title(self, text: str) -> None:
        self.c.setFont(self.font, 20)
        self.c.drawCentredString(WIDTH / 2, self.y, clean(text))
        self.y -= 14 * mm

    def heading(self, text: str) -> None:
        self.need(12 * mm)
        self.c.setFont(self.font, 13)
        self.c.drawString(LEFT, self.y, clean(text))
        self.y -= 8 * mm

    def text(self, text: Any, size: float = 11, indent: float = 0) -> None:
        """Wrapped text (CJK wraps at any character; each given line break kept)."""
        self.c.setFont(self.font, size)
        width = RIGHT - LEFT - indent
        for paragraph in clean(text).split("\n"):
            for line in wrap(paragraph, width, size, self.font):
                self.need(size * 1.7)
                self.c.drawString(LEFT + indent, self.y, line)
                self.y -= size * 1.7

    def fields(self, rows: Iterable[tuple[str, Any]], size: float = 11) -> None:
        """Label: value rows, the value wrapped beside its label."""
        for label, value in rows:
            self.c.setFont(self.font, size)
            label_text = clean(label) + "："
            label_width = max(pdfmetrics.stringWidth(label_text, self.font, size), 26 * mm)
            lines = wrap(clean(value), RIGHT - LEFT - label_width, size, self.font) or [""]
            for i, line in enumerate(lines):
                self.need(size * 1.7)
                if i == 0:
                    self.c.drawString(LEFT, self.y, label_text)
                self.c.drawString(LEFT + label_width, self.y, line)
                self.y -= size * 1.7

    def blank(self, label: str, note: str = "") -> None:
        """A line left for the official to fill in by hand (names and addresses are never stored here)."""
        self.need(10 * mm)
        self.c.setFont(self.font, 11)
        text = clean(label) + "："
        x = LEFT + pdfmetrics.stringWidth(text, self.font, 11)
        self.c.drawString(LEFT, self.y, text)
        self.c.line(x, self.y - 1.5, RIGHT - (40 * mm if note else 0), self.y - 1.5)
        if note:
            self.c.setFont(self.font, 8)
            self.c.drawRightString(RIGHT, self.y, clean(note))
        self.y -= 10 * mm

    def signatures(self, labels: Iterable[str]) -> None:
        for label in labels:
            self.blank(label)

    def gap(self, height: float = 4 * mm) -> None:
        self.y -= height

    def footer(self) -> None:
        f = self.facts
        self.c.setFont(self.font, 8)
        self.c.line(LEFT, BOTTOM - 4 * mm, RIGHT, BOTTOM - 4 * mm)
        self.c.drawString(LEFT, BOTTOM - 9 * mm, f"核验码：{printed_code(f.code)}　案件编号：{f.case_id}")
        self.c.drawString(LEFT, BOTTOM - 13 * mm, f"核验方式：{VERIFY_PATH}{f.code}（可查签发机关、日期、期限及是否有效，不含个人信息）")
        self.c.drawRightString(RIGHT, BOTTOM - 9 * mm, f"第 {self.number} 页")


def wrap(text: str, width: float, size: float, font: str = FONT) -> list[str]:
    """Greedy wrap by character width (no word boundaries in Chinese; Latin runs may break anywhere too)."""
    lines, line, used = [], "", 0.0
    for ch in text:
        w = pdfmetrics.stringWidth(ch, font, size)
        if line and used + w > width:
            lines.append(line)
            line, used = "", 0.0
        line += ch
        used += w
    if line or not lines:
        lines.append(line)
    return lines


def common_facts(facts: DocumentFacts) -> list[tuple[str, Any]]:
    """What every document carries: case number, issuing body, issue date, deadline, verification code."""
    return [("案件编号", facts.case_id), ("签发机关", facts.issuing_body), ("签发日期", day_text(facts.issued_at)),
            ("期限", day_text(facts.deadline)), ("核验码", printed_code(facts.code))]


def render(facts: DocumentFacts, body: Callable[[Page], None]) -> bytes:
    """The document's bytes: the same facts always give the same bytes."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    issued = facts.issued_at.astimezone(CHINA)
    stamp = f"D:{issued:%Y%m%d%H%M%S}+08'00'"
    canvas.setDateFormatter(lambda *_: stamp)
    canvas.setTitle(f"{facts.title} {facts.case_id}")
    canvas.setAuthor(clean(facts.issuing_body))
    canvas.setSubject(f"核验码 {printed_code(facts.code)}")
    canvas.setCreator("Baoxue casework")
    canvas.setProducer("Baoxue casework (reportlab)")
    page = Page(canvas, facts)
    page.title(facts.title)
    body(page)
    page.footer()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
