"""Strict JSON for every request body: orjson refuses NaN, ±Infinity, numbers beyond a double, lone surrogates and
invalid UTF-8; this module also bounds the nesting and refuses control characters in any string, and names where.

The common body costs one orjson parse and two byte scans; the path of a problem is looked for only when there is one.
"""

from __future__ import annotations

import json
import re
from itertools import chain
from typing import Any

import orjson

from services.runtime.validation import BadInput, text_problem

MAX_DEPTH = 32  # no request schema nests beyond 5; the standard library's parser (FastAPI's) recurses
# A control character can only be in a parsed string as an escape (raw ones are invalid JSON), or a raw DEL.
_MAYBE_CONTROL = re.compile(rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\[bf]|\x7f")
_CONTAINERS = (dict, list)


class _NotFinite:
    """Stands for a NaN/Infinity literal while the standard library's parser looks for where it is."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def parse_json(body: bytes, *, where: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """The document in ``body``, or BadInput (422) naming the field that is not valid input."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _locate(body, exc, where, max_depth) from None
    suspect = (b"\\" in body or b"\x7f" in body) and _MAYBE_CONTROL.search(body) is not None
    if suspect or (body.count(b"[") + body.count(b"{") > max_depth and _too_deep(doc, max_depth)):
        problem = _first_problem(doc, [where], max_depth)
        if problem is not None:
            raise problem
    return doc


def _too_deep(doc: Any, max_depth: int) -> bool:
    """Whether ``doc`` nests beyond ``max_depth``, level by level; a level holding no container ends the look
    (its value types are collected in C, so 10,000 flat rows cost no Python step per value)."""
    level = [doc] if type(doc) in _CONTAINERS else []
    for _ in range(max_depth):
        if not level:
            return False
        children = list(chain.from_iterable([n.values() if type(n) is dict else n for n in level]))
        kinds = set(map(type, children))
        if dict not in kinds and list not in kinds:
            return False
        level = [v for v in children if type(v) in _CONTAINERS]
    return bool(level)


def _first_problem(doc: Any, root: list[str | int], max_depth: int) -> BadInput | None:
    """The first value of ``doc`` that is not valid input (depth-first, iterative: a deep document is the input)."""
    stack: list[tuple[Any, list[str | int], int]] = [(doc, root, 0)]
    while stack:
        node, path, depth = stack.pop()
        kind = type(node)
        if kind is dict or kind is list:
            if depth >= max_depth:
                return BadInput(path, f"JSON 嵌套超过 {max_depth} 层 (nested too deeply)", kind="json_too_deep")
            items = node.items() if kind is dict else enumerate(node)
            for key, value in reversed(list(items)):
                if kind is dict:
                    problem = text_problem(key)
                    if problem:
                        return BadInput([*path, _printable(key)], f"字段名{problem}", kind="string_invalid")
                stack.append((value, [*path, key], depth + 1))
        elif kind is str:
            problem = text_problem(node)
            if problem:
                return BadInput(path, f"字符串{problem}", kind="string_invalid")
        elif kind is _NotFinite:
            return BadInput(path, f"数值不得为 {node.literal} (non-finite number)", kind="finite_number")
        elif kind is float and node in (float("inf"), float("-inf")):
            return BadInput(path, "数值超出范围，不得为无穷大 (number out of range)", kind="finite_number")
    return None


def _locate(body: bytes, exc: orjson.JSONDecodeError, where: str, max_depth: int) -> BadInput:
    """Why orjson refused ``body``, with the field's path when the lenient standard parser can find it."""
    if "depth" in exc.msg:
        return BadInput([where], f"JSON 嵌套过深 (nested too deeply): {exc.msg}", kind="json_too_deep")
    try:
        doc = json.loads(body, parse_constant=_NotFinite)
    except UnicodeDecodeError:
        return BadInput([where], "请求体不是有效的 UTF-8 文本 (body is not valid UTF-8)", kind="json_invalid")
    except RecursionError:
        return BadInput([where], "JSON 嵌套过深 (nested too deeply)", kind="json_too_deep")
    except ValueError:
        return BadInput([where, exc.pos], f"JSON 格式错误 (invalid JSON): {exc.msg}", kind="json_invalid")
    problem = _first_problem(doc, [where], max_depth)
    return problem or BadInput([where, exc.pos], f"JSON 无效 (invalid JSON): {exc.msg}", kind="json_invalid")


def _printable(key: str) -> str:
    """A field name fit to echo in a response (controls and surrogates escaped)."""
    return key.encode("unicode_escape").decode("ascii")
