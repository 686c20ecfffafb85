"""Exchange with the provincial 控辍保学 platform: the ledger in the platform's column layout (a mapping file,
``config/provincial_exchange.json``) as XLSX, and the platform's returned marks (疑似辍学标注) read from XLSX.

Cells are neutralised as every export's (``exports``); the marks are keyed by the pseudonymous ``student_id``
(never an ID number), and only the key, the mark and the platform's status are read from the file."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from services.reporting.adapters.exports import _xlsx_value
from services.reporting.domain import labels
from services.runtime.clock import CHINA
from services.runtime.validation import BadInput, id_problem

MAPPING = Path(__file__).parents[1] / "config" / "provincial_exchange.json"
MAX_ROWS = 200_000


def _day(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(CHINA).date().isoformat()
    return value.isoformat() if isinstance(value, date) else value


FORMATTERS: dict[str, Callable[[Any], Any]] = {
    "date": _day,
    "datetime": lambda v: v.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else v,
    "stage": lambda v: labels.STAGES.get(v, v), "source": lambda v: labels.SOURCES.get(v, v),
    "causes": labels.causes, "reason": lambda v: labels.REASONS.get(v, v), "groups": labels.groups,
}


class Mapping:
    """The platform's layout, read once from the mapping file and checked: every formatter must exist."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec, self.version = spec, spec["version"]
        self.export, self.marks, self.maps = spec["export"], spec["marks"], spec.get("maps", {})
        for col in self.export["columns"]:
            self.formatter(col.get("format"))  # fails at start, not at the first export
        if self.marks.get("status_map") and self.marks["status_map"] not in self.maps:
            raise ValueError(f"mapping: unknown status map {self.marks['status_map']}")

    @classmethod
    def load(cls, path: Path = MAPPING) -> "Mapping":
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def formatter(self, name: str | None) -> Callable[[Any], Any]:
        if name is None:
            return lambda v: v
        if name in FORMATTERS:
            return FORMATTERS[name]
        if name in self.maps:
            table = self.maps[name]
            return lambda v: table.get(v, v)
        raise ValueError(f"mapping: unknown formatter {name}")

    def platform_status(self, stage: str | None) -> str | None:
        name = self.marks.get("status_map")
        return self.maps[name].get(stage, stage) if name and stage else stage

    # -- the export ------------------------------------------------------------------------------
    def to_xlsx(self, rows: Iterable[dict[str, Any]], caption: str) -> bytes:
        cols = self.export["columns"]
        wb = Workbook()
        ws = wb.active
        ws.title = self.export["sheet"][:31]
        ws.append([_xlsx_value(caption)])
        ws.append([_xlsx_value(c["title"]) for c in cols])
        fmts = [self.formatter(c.get("format")) for c in cols]
        for n, row in enumerate(rows, start=1):
            values = []
            for c, fmt in zip(cols, fmts):
                v = n if c["field"] == "_row" else row.get(c["field"])
                values.append(_xlsx_value(_day(fmt(v)) if v is not None else None))
            ws.append(values)
        for line in ws.iter_rows():
            for cell in line:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula
        for i, c in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(10, len(c["title"]) * 2 + 4)
        ws.freeze_panes = "A3"
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    # -- the returned marks ----------------------------------------------------------------------
    def read_marks(self, body: bytes) -> list[dict[str, Any]]:
        """The rows of the platform's file: key, marked or not, platform status; a bad file is a 422 naming it."""
        if not zipfile.is_zipfile(io.BytesIO(body)):
            raise BadInput(["body"], "不是 XLSX 文件（请上传省级平台返回的标注表）")
        try:
            wb = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise BadInput(["body"], "XLSX 文件无法读取") from exc
        ws = wb.worksheets[0]
        m = self.marks
        rows = ws.iter_rows(values_only=True)
        header_at, header = 0, None
        for header_at, line in enumerate(rows, start=1):  # the header is the first line naming the key column
            if line and m["key_title"] in [str(v).strip() if v is not None else "" for v in line]:
                header = [str(v).strip() if v is not None else "" for v in line]
                break
            if header_at >= 10:
                break
        if header is None:
            raise BadInput(["body", m["key_title"]], f"找不到列「{m['key_title']}」")
        if m["mark_title"] not in header:
            raise BadInput(["body", m["mark_title"]], f"找不到列「{m['mark_title']}」")
        ki, mi = header.index(m["key_title"]), header.index(m["mark_title"])
        si = header.index(m["status_title"]) if m.get("status_title") in header else None
        marked_values = set(m["marked_values"])
        out: list[dict[str, Any]] = []
        for n, line in enumerate(rows, start=header_at + 1):
            key = line[ki] if ki < len(line) else None
            if key is None or str(key).strip() == "":
                continue
            key = str(key).strip()
            problem = id_problem(key) if len(key) <= 64 else "too long"
            if problem:
                raise BadInput(["body", f"row {n}", m["key_title"]], f"第 {n} 行「{m['key_title']}」无效")
            mark = line[mi] if mi < len(line) else None
            status = line[si] if si is not None and si < len(line) else None
            out.append({"row": n, "key": key, "marked": str(mark).strip() in marked_values if mark is not None
                        else False, "platform_status": str(status).strip()[:32] if status is not None else None})
            if len(out) > MAX_ROWS:
                raise BadInput(["body"], f"标注表超过 {MAX_ROWS} 行", status=413)
        return out
