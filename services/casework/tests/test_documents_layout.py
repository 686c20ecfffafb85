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


def ink_box(img):
    """The tight box of dark pixels of a greyscale image, as a black-on-white crop."""
    from PIL import ImageOps

    grey = img.convert("L")
    box = ImageOps.invert(grey).point(lambda v: 255 if v > 96 else 0).getbbox()
    assert box is not None, "no ink"
    return grey.crop(box)


def likeness(a, b) -> float:
    """1 - mean absolute difference of two ink crops scaled to the same size (1.0: identical)."""
    from PIL import ImageChops, ImageStat

    size = (240, 40)
    diff = ImageChops.difference(a.resize(size), b.resize(size))
    return 1 - ImageStat.Stat(diff).mean[0] / 255


def test_the_glyphs_are_embedded_and_render_as_the_font_draws_them():
    """The font travels in the PDF (a viewer needs no Chinese font): pypdf finds the embedded TrueType subset, and
    pdfium's rendering of the title matches Pillow's rendering of the same font file better than another text."""
    from PIL import Image, ImageDraw, ImageFont

    import pypdfium2

    from services.runtime.fonts import cjk_font_file

    pdf = render_document(replace(facts(), title="劝返复学通知书"))
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()]
    # reportlab lists its initial Helvetica (a standard Type 1 font every viewer has); everything else is our subset
    chinese = [f for f in fonts if f["/Subtype"] != "/Type1"]
    assert chinese and all(f["/Subtype"] == "/TrueType" and "/FontFile2" in f["/FontDescriptor"] for f in chinese)
    assert all("WenQuanYi" in str(f["/BaseFont"]) for f in chinese), "embedded subsets of the font file"

    scale = 2  # 144 dpi: the 20 pt title is 40 px high
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=scale).to_pil()
    baseline = round((24 / 25.4) * 72 * scale)  # the title's baseline, 24 mm from the top
    title = ink_box(image.crop((0, baseline - 24 * scale, image.width, baseline + 6 * scale)))

    def drawn(text: str):
        font = ImageFont.truetype(cjk_font_file(), 20 * scale, index=0)
        canvas = Image.new("L", (20 * scale * (len(text) + 2), 40 * scale), 255)
        ImageDraw.Draw(canvas).text((10, 10), text, font=font, fill=0)
        return ink_box(canvas)

    same, other = likeness(title, drawn("劝返复学通知书")), likeness(title, drawn("责令限期改正书"))
    assert same > 0.85 and same > other + 0.1, (same, other)


def test_documents_issued_before_the_embedded_font_render_as_they_were_recorded():
    """The typeface is part of the record: the CID Song type of older documents gives their recorded bytes."""
    old = replace(facts(), typeface="STSong-Light")
    assert render_document(old) == render_document(old) != render_document(facts())
    assert b"/FontFile2" not in render_document(old) and b"STSong-Light" in render_document(old)
