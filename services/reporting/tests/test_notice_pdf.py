"""The 通报 PDF without a database: the Chinese font travels in the file (a viewer needs no Chinese font of its own)
and the text extracts as the notice reads."""

from __future__ import annotations

import io
from datetime import date

import pypdf

from services.reporting.adapters import notice_pdf


def finding(n: int, status: str) -> dict:
    return {"finding_id": f"f{n}", "inspection_id": "i-1", "title": "春季督导", "unit_code": "520102001",
            "unit_name": "某镇人民政府", "school_id": f"s{n}", "school_name": f"第{n}小学",
            "description_code": "no_return_owner", "severity": "major", "status": status,
            "deadline": date(2026, 3, 20), "escalated_to": "520102", "escalated_to_name": "南明区"}


def notice() -> bytes:
    rows = [finding(1, "overdue"), finding(2, "pending")]
    cards = {"period": "2026-02", "ranked": 3, "vetoed": [], "below_target": [],
             "bottom": [{"code": "520102001", "name": "某镇", "school_id": None, "score": 61.5, "rank": 3,
                         "ranked": 3, "figures": [{"label": "入学率", "value": 0.91, "target": 0.99}]}]}
    return notice_pdf.render(notice_pdf.listing(rows, "520102", date(2026, 3, 21), scorecards=cards))


def test_the_notice_embeds_its_chinese_font():
    reader = pypdf.PdfReader(io.BytesIO(notice()))
    fonts = {f.get_object().indirect_reference: f.get_object()
             for page in reader.pages for f in page["/Resources"]["/Font"].values()}.values()
    # reportlab lists its initial Helvetica (a standard Type 1 font every viewer has); everything else is our subset
    chinese = [f for f in fonts if f["/Subtype"] != "/Type1"]
    assert chinese, "no Chinese font in the notice"
    for font in chinese:
        assert font["/Subtype"] == "/TrueType" and "/FontFile2" in font["/FontDescriptor"], font
        assert "WenQuanYiMicroHei" in str(font["/BaseFont"])
    assert all(f["/BaseFont"] == "/Helvetica" for f in fonts if f["/Subtype"] == "/Type1")


def test_the_notice_text_extracts_in_chinese():
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(notice())).pages).replace("\n", "")
    for words in ("控辍保学督导检查结果通报", "辖区：520102", "逾期未整改 1 个", "整改中 1 个", "第1小学",
                  "某镇人民政府（520102001）", "南明区（520102）", "考核排名靠后单位：1 个", "入学率 91.00% / 99.00%"):
        assert words in text, words


def test_the_same_notice_gives_the_same_bytes():
    assert notice() == notice()
