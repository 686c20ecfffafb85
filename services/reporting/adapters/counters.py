"""Dashboard counters: every figure pre-aggregated per unit (province 52 … township 520102001, and each leaf
"520102001|school"), kept in the same transaction as the rows they count, so a dashboard reads a few rows by key.

Each counted thing (an enrolment, a case, an open detection, an open finding, a school) contributes entries
(leaf, measure, key, since, until) → n; an entry counts on the days (ordinals) ``since <= day < until``, which is
how special groups (valid from/until a date), pending deadlines (overdue after their day) and school moves
(乡镇撤并: a school's township from an effective date) stay exact on any day. The live consumer adds the difference
of the contributions before and after each row it writes (``CountingStore``); the rebuild sums the same
contributions over the rebuilt rows (``compute_all``), so both give the same counters. Every contribution is added
to the leaf and to each level above it, so a level equals the sum of the levels below by construction.
The rules of what a row contributes are pure and live in ``domain/counting.py``; this module sums them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from services.reporting.adapters.projections import BY_NAME
from services.reporting.adapters.stores import MemoryStore, Row
from services.reporting.domain.counting import (
    COUNTED, Entry, Timeline, case, detection, enrolment, expand, finding, group_spans, relocate, school, timeline,
)
from services.runtime.db import Database


# -- the rebuild: sum over every row ------------------------------------------------------------------------
def compute_all(store: MemoryStore) -> None:
    """Fills the store's dashboard_counts from its rows (the rebuild, and a database that predates counters)."""
    t = store.tables
    moves_by: dict[str, list[Row]] = {}
    for m in t["school_moves"].values():
        moves_by.setdefault(m["school_id"], []).append(m)
    moves = {k: timeline(v) for k, v in moves_by.items()}
    spans = {sid: group_spans(g) for (sid,), g in t["special_groups"].items()}
    students = t["students"]
    leaf: Counter = Counter()
    for st in students.values():
        relocate(enrolment(st, spans.get(st["student_id"])), moves, leaf)
    for row in t["ledger"].values():
        st = students.get((row["student_id"],))
        relocate(case(row, st["grade"] if st else None, spans.get(row["student_id"])), moves, leaf)
    for row in t["suspected"].values():
        relocate(detection(row), moves, leaf)
    for row in t["findings"].values():
        relocate(finding(row, spans.get(row["student_id"])), moves, leaf)
    for row in t["schools"].values():
        relocate(school(row), moves, leaf)
    rows = t["dashboard_counts"]
    rows.clear()
    for (unit, m, k, a, b), (parent, n) in expand(leaf).items():
        rows[(unit, m, k, a, b)] = {"unit": unit, "parent": parent, "measure": m, "key": k, "since": a, "until": b,
                                    "n": n}



def backfill(db: Database) -> None:
    """A database whose read models predate the counters gets them once, from its rows."""
    with db.transaction() as conn:
        conn.execute("LOCK TABLE dashboard_counts IN EXCLUSIVE MODE")
        if conn.execute("SELECT 1 FROM dashboard_counts LIMIT 1").fetchone() is not None:
            return
        if not any(conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in COUNTED):
            return
        store = MemoryStore()
        for name in COUNTED:
            keys = BY_NAME[name].key
            for row in conn.execute(f"SELECT * FROM {name}"):
                store.tables[name][tuple(row[k] for k in keys)] = dict(row)
        compute_all(store)
        store.copy_into(conn, only=("dashboard_counts",))


# -- live: the difference each row write makes ------------------------------------------------------------
_UNREAD = object()  # a key the cache has not looked up yet (None: looked up, no row)


class CountingStore:
    """Wraps the consumer's SqlStore: each write of a counted row adds its contributions' difference."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.conn = inner, inner.conn
        self.cache: dict[tuple[str, tuple], Row | None] = {}
        self.moves: dict[str, Timeline] = {}
        self.all_moves = False  # every school's moves are in ``moves`` (a school absent there never moved)
        self.case_ids: dict[str, set[str]] = {}  # student → ids of the student's ledger rows (preloaded students)
        self.delta: Counter = Counter()
        self._put_owned = getattr(inner, "put_owned", None)  # a buffered inner store takes rows without a copy

    def preload(self, table: str, keys: Iterable[tuple[Any, ...]]) -> None:
        """Reads the rows of many keys at once (a store that can: ``load``), so ``get`` answers them from memory."""
        load = getattr(self.inner, "load", None)
        if load is None:
            return
        missing = [k for k in keys if (table, k) not in self.cache]
        for key, row in load(table, missing).items():
            self.cache[(table, key)] = row

    def _sync(self) -> None:
        """Writes rows the inner store still holds, before a query of this store's own reads the tables."""
        flush_writes = getattr(self.inner, "flush_writes", None)
        if flush_writes is not None:
            flush_writes()

    def _cached(self, table: str, key: tuple[Any, ...]) -> Row | None:
        """The row as this store holds it: never handed out (``get`` copies it), never changed (``put`` replaces it)."""
        row = self.cache.get((table, key), _UNREAD)
        if row is _UNREAD:
            row = self.cache[(table, key)] = self.inner.get(table, key)
        return row  # type: ignore[return-value]

    def get(self, table: str, key: tuple[Any, ...]) -> Row | None:
        row = self._cached(table, key)
        return dict(row) if row is not None else None

    def put(self, table: str, row: Row) -> None:
        key = tuple(row[k] for k in BY_NAME[table].key)
        before = self._cached(table, key) if table in COUNTED else None  # read only, below
        if table == "school_moves":
            self._moved(row["school_id"], lambda: self._put(table, key, row))
            return
        self._put(table, key, row)
        if table == "ledger" and row["student_id"] in self.case_ids:
            self.case_ids[row["student_id"]].add(row["case_id"])
        if table == "students":
            self._student(before, row)
        elif table == "special_groups":
            self._groups(row["student_id"], before, row)
        elif table == "ledger":
            st, g = self.get("students", (row["student_id"],)), self._spans(row["student_id"])
            grade = st["grade"] if st else None
            self._add(case(before, grade, g), -1)
            self._add(case(row, grade, g))
        elif table == "findings":
            g = self._spans(row["student_id"])
            self._add(finding(before, g), -1)
            self._add(finding(row, g))
        elif table == "suspected":
            self._add(detection(before), -1)
            self._add(detection(row))
        elif table == "schools":
            self._add(school(before), -1)
            self._add(school(row))

    def put_first_student(self, row: Row) -> bool:
        """``put("students", row)`` for a child this store knows (preloaded: ``preload``, ``preload_cases``,
        ``preload_moves``) has no students row, no special groups and no cases yet, at a school that never moved:
        what ``put`` does then — the row, and its enrolment's contributions added as they are (no groups to split
        them, no cases to recount on its first grade, no move to relocate them) — without its lookups. False, and
        nothing done, where the store does not know all of that (the caller puts the row)."""
        student_id, cache = row["student_id"], self.cache
        key = (student_id,)
        if (cache.get(("students", key), _UNREAD) is not None or cache.get(("special_groups", key), _UNREAD) is not None
                or self.case_ids.get(student_id) != set() or not self.all_moves or self.moves.get(row["school_id"])):
            return False
        self._put("students", key, row)
        delta = self.delta
        for entry in enrolment(row, None):
            delta[entry] += 1
        return True

    def _put(self, table: str, key: tuple, row: Row) -> None:
        owned = dict(row)  # one copy, shared with a buffered inner store: neither hands it out nor changes it
        put_owned = self._put_owned
        if put_owned is not None:
            put_owned(table, key, owned)
        else:
            self.inner.put(table, row)
        self.cache[(table, key)] = owned

    def _spans(self, student_id: str) -> dict | None:
        return group_spans(self.get("special_groups", (student_id,)))

    def preload_moves(self) -> None:
        """Reads every school's moves at once (乡镇撤并 are few), so counting a batch asks for none."""
        self._sync()
        by_school: dict[str, list[Row]] = {}
        for row in self.conn.execute("SELECT * FROM school_moves"):
            by_school.setdefault(row["school_id"], []).append(row)
        self.moves = {school_id: timeline(rows) for school_id, rows in by_school.items()}
        self.all_moves = True

    def preload_cases(self, student_ids: Iterable[str]) -> None:
        """Reads the ledger rows of many students at once (a grade change recounts the student's cases)."""
        wanted = [s for s in dict.fromkeys(student_ids) if s not in self.case_ids]
        if not wanted:
            return
        self._sync()
        for s in wanted:
            self.case_ids[s] = set()
        for row in self.conn.execute("SELECT * FROM ledger WHERE student_id = ANY(%b::text[])", (wanted,)):
            self.case_ids[row["student_id"]].add(row["case_id"])
            self.cache.setdefault(("ledger", (row["case_id"],)), dict(row))

    def _timeline(self, school_id: str) -> Timeline:
        if school_id not in self.moves and self.all_moves:
            self.moves[school_id] = []
        if school_id not in self.moves:
            self._sync()
            rows = self.conn.execute("SELECT * FROM school_moves WHERE school_id = %s", (school_id,)).fetchall()
            self.moves[school_id] = timeline(rows)
        return self.moves[school_id]

    def _add(self, entries: Iterable[Entry], sign: int = 1) -> None:
        entries = list(entries)
        if not entries:  # a row that counts nothing (a new row's "before")
            return
        moves = {s: self._timeline(s) for s in {e[1] for e in entries if e[1]}}
        relocate(entries, moves, self.delta, sign)

    def _cases(self, student_id: str) -> list[Row]:
        if student_id in self.case_ids:
            rows = (self.get("ledger", (case_id,)) for case_id in sorted(self.case_ids[student_id]))
            return [r for r in rows if r is not None and r["student_id"] == student_id]
        self._sync()
        return [dict(r) for r in self.conn.execute("SELECT * FROM ledger WHERE student_id = %s", (student_id,))]

    def _student(self, before: Row | None, after: Row) -> None:
        g = self._spans(after["student_id"])
        self._add(enrolment(before, g), -1)
        self._add(enrolment(after, g))
        old, new = (before or {}).get("grade"), after["grade"]
        if old != new:
            for row in self._cases(after["student_id"]):
                self._add(case(row, old, g), -1)
                self._add(case(row, new, g))

    def _groups(self, student_id: str, before: Row | None, after: Row) -> None:
        old, new = group_spans(before), group_spans(after)
        if old == new:
            return
        st = self.get("students", (student_id,))
        grade = st["grade"] if st else None
        self._sync()
        findings = [dict(r) for r in self.conn.execute("SELECT * FROM findings WHERE student_id = %s", (student_id,))]
        for spans, sign in ((old, -1), (new, 1)):
            self._add(enrolment(st, spans), sign)
            for row in self._cases(student_id):
                self._add(case(row, grade, spans), sign)
            for row in findings:
                self._add(finding(row, spans), sign)

    def _school_entries(self, school_id: str) -> list[Entry]:
        """Everything counted at a school, as its rows say (before any move)."""
        self._sync()
        q = self.conn.execute
        out: list[Entry] = []
        spans: dict[str, dict | None] = {}

        def groups(student_id: str) -> dict | None:
            if student_id not in spans:
                spans[student_id] = self._spans(student_id)
            return spans[student_id]

        for st in q("SELECT * FROM students WHERE school_id = %s", (school_id,)):
            out.extend(enrolment(st, groups(st["student_id"])))
        for row in q("SELECT l.*, s.grade AS student_grade FROM ledger l LEFT JOIN students s USING (student_id) "
                     "WHERE l.school_id = %s", (school_id,)):
            out.extend(case(row, row["student_grade"], groups(row["student_id"])))
        for row in q("SELECT * FROM suspected WHERE school_id = %s", (school_id,)):
            out.extend(detection(row))
        for row in q("SELECT * FROM findings WHERE school_id = %s", (school_id,)):
            out.extend(finding(row, groups(row["student_id"])))
        out.extend(school(self.get("schools", (school_id,))))
        return out

    def _moved(self, school_id: str, put: Any) -> None:
        entries = self._school_entries(school_id)
        relocate(entries, {school_id: self._timeline(school_id)}, self.delta, -1)
        put()
        self.moves.pop(school_id, None)
        self.all_moves = False  # read this school's moves again (and any other's not read yet)
        relocate(entries, {school_id: self._timeline(school_id)}, self.delta, 1)

    def flush(self) -> None:
        """Writes the rows the inner store holds, then adds the differences to the counters (in a fixed order, so
        concurrent writers cannot deadlock)."""
        self._sync()
        rows = sorted((k, v) for k, v in expand(self.delta).items())
        self.delta.clear()
        if not rows:
            return
        cols = list(zip(*[(u, p, m, k, a, b, n) for (u, m, k, a, b), (p, n) in rows]))
        # binary arrays (%b): psycopg dumps a text array element by element in Python, escaping each one; the
        # differences of a poll of 2,000 enrolments are about a thousand rows of seven columns
        self.conn.execute(
            "INSERT INTO dashboard_counts (unit, parent, measure, key, since, until, n) SELECT * FROM unnest("
            "%b::text[], %b::text[], %b::text[], %b::text[], %b::int[], %b::int[], %b::bigint[]) "
            "ON CONFLICT (unit, measure, key, since, until) DO UPDATE SET n = dashboard_counts.n + EXCLUDED.n",
            [list(c) for c in cols],
        )
        if any(n < 0 for n in cols[6]):
            self.conn.execute(
                "DELETE FROM dashboard_counts WHERE n = 0 AND (unit, measure, key, since, until) IN ("
                "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::int[], %b::int[]))",
                [list(cols[0]), list(cols[2]), list(cols[3]), list(cols[4]), list(cols[5])],
            )
