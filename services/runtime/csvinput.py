"""CSV and other text uploads under the same rules as JSON bodies: a body that is not text, holds a control
character, or a field beyond the csv module's limit is refused whole with a 4xx naming the line (never a 500)."""

from __future__ import annotations

import csv
import re
from typing import Any, Iterator

from services.runtime.validation import BadInput

MAX_FIELD_CHARS = csv.field_size_limit()  # 131,072: a larger cell is not a cell of any file we import
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def decode_text(content: bytes, encodings: tuple[str, ...] = ("utf-8-sig",), what: str = "上传内容") -> str:
    """``content`` decoded by the first encoding that reads it, and checked (``check_text``); else BadInput 422."""
    for encoding in encodings:
        try:
            return check_text(content.decode(encoding))
        except UnicodeDecodeError:
            continue
    names = "、".join(e.replace("-sig", "").upper() for e in encodings)
    raise BadInput(["body"], f"{what}须为 {names} 编码的文本，收到二进制或其他编码 (body is not {names} text)",
                   kind="encoding")


def check_text(text: str) -> str:
    """``text`` when it holds no control character but tab, newline and carriage return; else BadInput naming the line."""
    found = _CONTROL.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise BadInput(["body", f"line {line}"], f"第 {line} 行含控制字符 U+{ord(found.group()):04X} (control character)",
                       kind="string_invalid")
    return text


def guarded(reader: Any) -> Iterator[Any]:
    """The rows of a ``csv.reader``/``csv.DictReader``; a malformed file or an oversized field is BadInput (422/413)."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise csv_error(exc, reader.line_num) from None
        yield row


def header(reader: csv.DictReader) -> list[str]:
    """A DictReader's field names (reading the header row), under the same rules as ``guarded``."""
    try:
        return list(reader.fieldnames or ())
    except csv.Error as exc:
        raise csv_error(exc, reader.line_num) from None


def csv_error(exc: csv.Error, line: int) -> BadInput:
    """A csv module error as the 4xx it is: 413 for a field beyond the limit, 422 for any other malformed CSV."""
    if "field larger than field limit" in str(exc):
        return BadInput(["body", f"line {line}"], f"第 {line} 行有单元格超过 {MAX_FIELD_CHARS} 个字符 (field too large)",
                        status=413, kind="field_too_large")
    return BadInput(["body", f"line {line}"], f"第 {line} 行不是有效的 CSV：{exc} (invalid CSV)", kind="csv_invalid")
