"""One set of string and number rules for every service's input: what PostgreSQL text, projections and logs can
hold, checked at the edge so no handler, event or read model ever sees a value that breaks them later.

- ``SafeText``: free text (reasons, notes); no C0 control character but tab, newline and carriage return, no DEL,
  no lone surrogate.
- ``SafeLine``: one line of text (names, titles, class names): no control character at all.
- ``SafeId``: an identifier (ids, codes, record ids, owner ids): no control character, no lone surrogate.
- ``FiniteFloat``: a number that is neither NaN nor ±Infinity (a JSON ``1e400`` would be Infinity).

Non-pydantic parsers (CSV rows, orjson bulk rows) call ``text_problem``/``id_problem`` for the same rules.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Sequence

from pydantic import AfterValidator, Field

# C0 controls, DEL and C1 controls; the tab/newline/carriage return exception is made by SafeText only.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class BadInput(ValueError):
    """A request the edge refuses as a whole: ``status`` (400/413/422), where (``loc``) and what was wrong (``msg``)."""

    def __init__(self, loc: Sequence[str | int], msg: str, *, status: int = 422, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.loc, self.msg, self.status, self.kind = tuple(loc), msg, status, kind

    def detail(self) -> list[dict[str, Any]]:
        """The body's ``detail`` in the shape FastAPI gives its own validation errors."""
        return [{"type": self.kind, "loc": list(self.loc), "msg": self.msg}]


def text_problem(value: str, *, multiline: bool = True) -> str | None:
    """Why ``value`` may not be stored as text (in Chinese, English in parentheses), or None when it may."""
    if _SURROGATE.search(value):
        return "含孤立的 UTF-16 代理字符 (lone surrogate)"
    found = (_TEXT_CONTROL if multiline else _CONTROL).search(value)
    if found:
        return f"含控制字符 U+{ord(found.group()):04X} (control character)"
    return None


def id_problem(value: str) -> str | None:
    """Why ``value`` may not be an identifier, or None when it may."""
    return text_problem(value, multiline=False)


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _line(value: str) -> str:
    problem = text_problem(value, multiline=False)
    if problem:
        raise ValueError(problem)
    return value


def _id(value: str) -> str:
    problem = id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


SafeText = Annotated[str, AfterValidator(_text)]
SafeLine = Annotated[str, AfterValidator(_line)]
SafeId = Annotated[str, AfterValidator(_id)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
