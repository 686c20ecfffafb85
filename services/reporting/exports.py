"""Ledger exports: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from services.reporting.ledgers import LedgerKind
from services.runtime.clock import CHINA


def _cell(value: Any, formatter: Any) -> Any:
    if formatter is not None and value is not None:
        value = formatter(value) or value
    if isinstance(value, datetime):
        return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def table(kind: LedgerKind, rows: Iterable[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [h for _, h, _ in kind.columns]
    body = [[_cell(r.get(k), f) for k, _, f in kind.columns] for r in rows]
    return headers, body


def to_csv(kind: LedgerKind, rows: Iterable[dict[str, Any]], caption: str) -> bytes:
    headers, body = table(kind, rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([caption])
    writer.writerow(headers)
    writer.writerows(body)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(kind: LedgerKind, rows: Iterable[dict[str, Any]], caption: str) -> bytes:
    headers, body = table(kind, rows)
    wb = Workbook()
    ws = wb.active
    ws.title = kind.title[:31]
    ws.append([caption])
    ws.append(headers)
    for line in body:
        ws.append(line)
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
