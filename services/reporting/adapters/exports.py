"""Ledger and report exports: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and XLSX (openpyxl).

Every cell goes through ``neutral`` first: a text that a spreadsheet would read as a formula (OWASP "CSV
injection": a leading ``= + - @``, tab, carriage return, or their full-width forms) is prefixed with ``'``, and
XLSX cells are written as strings, never formulas, so a school or child named ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from services.reporting.adapters.ledgers import LedgerKind
from services.runtime.clock import CHINA

# Characters that start a formula (or a DDE payload) in Excel, LibreOffice or WPS, half- and full-width.
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
# Leading blanks some spreadsheets skip before reading a formula (ASCII, no-break and ideographic space).
BLANKS = " \u00a0\u3000"


def neutral(value: Any) -> Any:
    """A text a spreadsheet would evaluate gets a leading apostrophe; numbers, dates and other texts pass."""
    if isinstance(value, str) and value.lstrip(BLANKS)[:1] in FORMULA_START:
        return "'" + value
    return value


def _cell(value: Any, formatter: Any) -> Any:
    if formatter is not None and value is not None:
        value = formatter(value) or value
    if isinstance(value, datetime):
        return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return neutral(value)


def table(kind: LedgerKind, rows: Iterable[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [neutral(h) for _, h, _ in kind.columns]
    body = [[_cell(r.get(k), f) for k, _, f in kind.columns] for r in rows]
    return headers, body


def csv_bytes(lines: Iterable[Sequence[Any]]) -> bytes:
    """Rows as CSV with a BOM, every cell neutralised (the one CSV writer of every export)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([neutral(v) for v in line] for line in lines)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_csv(kind: LedgerKind, rows: Iterable[dict[str, Any]], caption: str) -> bytes:
    headers, body = table(kind, rows)
    return csv_bytes([[caption], headers, *body])


def _xlsx_value(value: Any) -> Any:
    """Text without the control characters XLSX cannot hold (openpyxl would refuse the whole file)."""
    value = neutral(value)
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def to_xlsx(kind: LedgerKind, rows: Iterable[dict[str, Any]], caption: str) -> bytes:
    headers, body = table(kind, rows)
    wb = Workbook()
    ws = wb.active
    ws.title = kind.title[:31]
    for line in ([caption], headers, *body):
        ws.append([_xlsx_value(v) for v in line])
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl infers a formula from a leading "="; a text is always a string
    for i, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(header) * 2 + 4)
    ws.freeze_panes = "A3"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def caption(kind: LedgerKind, positions: dict[str, Any], scope: str) -> str:
    """The line above the table: what, whose, and which event positions it reflects."""
    at = positions.get("as_of_time")
    at_text = at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at else "无数据"
    seqs = "，".join(f"{t['topic']}#{t['sequence']}" for t in positions.get("topics", []))
    return f"{kind.title}｜辖区 {scope or '全部'}｜数据截至 {at_text}（事件位置：{seqs or '无'}）"


def monthly_csv(report: dict[str, Any], measures: Sequence[str]) -> bytes:
    """A monthly report as CSV: title line, then each measure's sealed and current value."""
    head = [f"辍学月报告 {report['month']} {report['name']}", f"状态 {report['status']}",
            f"内容哈希 {report['content_hash']}"]
    rows = [[key, report["figures"].get(key), report["current_figures"].get(key)] for key in measures]
    return csv_bytes([head, ["指标", "封存值", "当前值（含更正）"], *rows])
