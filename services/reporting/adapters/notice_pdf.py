"""The 通报 (督导检查结果通报) list: findings grouped as the notice reads them, and its printable PDF (reportlab,
WenQuanYi Micro Hei from ``services.runtime.fonts``, subset-embedded, so a viewer without a Chinese font shows the
text). Every value is XML-escaped before reportlab's
paragraph markup sees it, so a unit named ``<b>…`` prints as text."""

from __future__ import annotations

import io
from datetime import date
from typing import Any, Iterable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.reporting.domain.inspections import FINDINGS, SEVERITIES, STATUSES
from services.runtime.fonts import cjk_font

HEADERS = ("序号", "被检查单位", "学校", "问题", "程度", "整改期限", "状态", "上报上级")


def listing(rows: Iterable[dict[str, Any]], scope: str, today: date,
            scorecards: dict[str, Any] | None = None) -> dict[str, Any]:
    """The notice's content: overdue and open findings first, then the rest, each with Chinese labels; with a
    scorecard period, also the scorecard lists (Scorecards.notice)."""
    order = {"overdue": 0, "pending": 1, "open": 2, "reported": 3, "accepted": 4}
    items = sorted(rows, key=lambda r: (order.get(r["status"], 9), r["unit_code"], r["finding_id"]))
    out = [{
        "finding_id": r["finding_id"], "inspection_id": str(r["inspection_id"]), "title": r["title"],
        "unit_code": r["unit_code"], "unit_name": r.get("unit_name") or r["unit_code"],
        "school_id": r["school_id"], "school_name": r.get("school_name"),
        "description_code": r["description_code"], "description": FINDINGS.get(r["description_code"], ""),
        "severity": SEVERITIES.get(r["severity"], r["severity"]), "status": r["status"],
        "status_label": STATUSES.get(r["status"], r["status"]),
        "deadline": r["deadline"].isoformat() if r.get("deadline") else None,
        "escalated_to": r.get("escalated_to"), "escalated_to_name": r.get("escalated_to_name"),
    } for r in items]
    counts = {k: sum(1 for r in out if r["status"] == k) for k in STATUSES}
    return {"scope": scope or "全部", "date": today.isoformat(), "title": "控辍保学督导检查结果通报",
            "counts": counts, "items": out, "scorecards": scorecards}


SCORECARD_SECTIONS = (("vetoed", "一票否决单位"), ("bottom", "考核排名靠后单位"), ("below_target", "考核指标未达目标单位"))
SCORECARD_HEADERS = ("序号", "单位", "得分", "排名", "未达目标的指标（实际值 / 目标值）")


def _value(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.2%}" if isinstance(v, float) and v <= 1 else str(v)


def _scorecard_story(cards: dict[str, Any], body: ParagraphStyle, cell: ParagraphStyle) -> list[Any]:
    """The scorecard sections of the notice, each a table (or a line saying there is none)."""
    story: list[Any] = [Spacer(1, 6 * mm), Paragraph(escape(
        f"考核通报（考核期：{cards['period']}，参评单位 {cards['ranked']} 个）"), body)]
    for key, heading in SCORECARD_SECTIONS:
        items = cards.get(key) or []
        story += [Spacer(1, 3 * mm), Paragraph(escape(f"{heading}：{len(items)} 个"), body)]
        if not items:
            continue
        data = [[Paragraph(escape(h), cell) for h in SCORECARD_HEADERS]]
        for n, u in enumerate(items, start=1):
            unit = f"{u.get('name') or u['school_id'] or u['code']}（{u['code']}）"
            missed = "；".join(f"{f['label']} {_value(f['value'])} / {_value(f['target'])}" for f in u["figures"])
            data.append([Paragraph(escape(str(v)), cell) for v in
                         (n, unit, f"{u['score']:.2f}", f"{u['rank']}/{u['ranked']}", missed or "—")])
        table = Table(data, colWidths=[10 * mm, 50 * mm, 18 * mm, 18 * mm, 90 * mm], repeatRows=1)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(table)
    return story


def render(notice: dict[str, Any]) -> bytes:
    """The notice as an A4 PDF in Chinese."""
    font = cjk_font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=11)
    c = notice["counts"]
    story: list[Any] = [
        Paragraph(escape(notice["title"]), title), Spacer(1, 4 * mm),
        Paragraph(escape(f"辖区：{notice['scope']}　　日期：{notice['date']}"), body),
        Paragraph(escape(f"共 {len(notice['items'])} 个问题：逾期未整改 {c.get('overdue', 0)} 个，整改中 "
                         f"{c.get('pending', 0)} 个，已报整改 {c.get('reported', 0)} 个，整改通过 "
                         f"{c.get('accepted', 0)} 个，待下达整改 {c.get('open', 0)} 个。"), body),
        Spacer(1, 4 * mm),
    ]
    data = [[Paragraph(escape(h), cell) for h in HEADERS]]
    for n, r in enumerate(notice["items"], start=1):
        unit = f"{r['unit_name']}（{r['unit_code']}）"
        above = f"{r['escalated_to_name']}（{r['escalated_to']}）" if r["escalated_to"] else ""
        values = (str(n), unit, r["school_name"] or "", r["description"], r["severity"], r["deadline"] or "",
                  r["status_label"], above)
        data.append([Paragraph(escape(str(v)), cell) for v in values])
    widths = [10 * mm, 34 * mm, 26 * mm, 34 * mm, 12 * mm, 20 * mm, 24 * mm, 26 * mm]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(table)
    if notice.get("scorecards"):
        story += _scorecard_story(notice["scorecards"], body, cell)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title="督导检查结果通报", author="Baoxue", creator="Baoxue",
                            invariant=1)
    doc.build(story)
    return out.getvalue()
