"""Division names valid on a day (行政区划名称): a rename shows the old name before its date and the new one from it.

A day before a division's first known name (e.g. before the code list's publication date) shows that first
name; a code reporting has no name for shows as the code."""

from __future__ import annotations

from datetime import date
from typing import Iterable

import psycopg

_PICK = ("ORDER BY {a}.valid_from <= {day} DESC, CASE WHEN {a}.valid_from <= {day} THEN {a}.valid_from END DESC "
         "NULLS LAST, {a}.valid_from")


def join(code_expr: str, alias: str) -> str:
    """A LEFT JOIN LATERAL giving `{alias}.name`: the name of the code valid on %(day)s (for ledger selects)."""
    pick = _PICK.format(a="jn", day="%(day)s")
    return (f" LEFT JOIN LATERAL (SELECT jn.name FROM jurisdiction_names jn WHERE jn.code = {code_expr} {pick} "
            f"LIMIT 1) {alias} ON true")


def on(conn: psycopg.Connection, codes: Iterable[str], day: date) -> dict[str, str]:
    """Names of the codes valid on the day (codes without any known name are left out)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    pick = _PICK.format(a="n", day="%(day)s")
    rows = conn.execute(
        f"SELECT DISTINCT ON (n.code) n.code, n.name FROM jurisdiction_names n WHERE n.code = ANY(%(codes)s) "
        f"{pick.replace('ORDER BY', 'ORDER BY n.code,')}", {"codes": wanted, "day": day},
    ).fetchall()
    return {r["code"]: r["name"] for r in rows}
