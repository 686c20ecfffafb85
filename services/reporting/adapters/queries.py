"""Reporting reads, always inside a jurisdiction scope and always with the event positions they reflect,
read in the same snapshot. ``at`` (a past instant) reads the read models as the inbox made them then."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterator

import psycopg

from services.reporting.adapters import inbox, names
from services.reporting.adapters.ledgers import KINDS, LedgerKind, order_by
from services.reporting.adapters.positions import CONSUMER
from services.reporting.adapters.rebuild import as_of
from services.reporting.domain import labels
from services.runtime.clock import CHINA
from services.runtime.db import Database


NAMED = "cn.name AS county_name, tn.name AS township_name"
NAMES = names.join("x.county_code", "cn") + names.join("x.township_code", "tn")  # on the page only, valid on its day


@dataclass(frozen=True)
class Scope:
    """What a caller may see: a jurisdiction code prefix, optionally narrowed to some schools."""

    jurisdiction: str
    schools: tuple[str, ...] | None = None

    def where(self, alias: str) -> tuple[str, dict[str, Any]]:
        clause = f"{alias}.township_code LIKE %(scope)s"
        params: dict[str, Any] = {"scope": self.jurisdiction + "%"}
        if self.schools is not None:
            clause += f" AND {alias}.school_id = ANY(%(schools)s)"
            params["schools"] = list(self.schools)
        return clause, params


@dataclass(frozen=True)
class LedgerFilter:
    township_code: str | None = None
    county_code: str | None = None
    status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        given = {"township_code": self.township_code, "county_code": self.county_code, "status": self.status,
                 **self.extra}
        return {k: v for k, v in given.items() if v is not None and v != ""}


@dataclass
class View:
    """A consistent read: the connection (live or time-travelled) and the positions its figures reflect."""

    conn: psycopg.Connection
    at: datetime | None
    now: datetime
    positions: dict[str, Any]

    @property
    def day(self) -> date:
        """The calendar day (China) the view stands on: names and group memberships valid then."""
        instant = self.now if self.at is None else self.at - timedelta(microseconds=1)
        return instant.astimezone(CHINA).date()


def _positions(conn: psycopg.Connection, at: datetime | None) -> dict[str, Any]:
    if at is None:
        topics = conn.execute("SELECT topic, sequence, event_time FROM applied_positions ORDER BY topic").fetchall()
        partitions = conn.execute(
            "SELECT topic, partition, sequence FROM consumer_positions WHERE consumer = %s ORDER BY topic, partition",
            (CONSUMER,),
        ).fetchall()
    else:
        rows = inbox.positions(conn, at)
        partitions = [{k: r[k] for k in ("topic", "partition", "sequence")} for r in rows]
        by_topic: dict[str, dict[str, Any]] = {}
        for r in rows:
            t = by_topic.setdefault(r["topic"], {"topic": r["topic"], "sequence": 0, "event_time": r["event_time"]})
            t["sequence"] = max(t["sequence"], r["sequence"])
            t["event_time"] = max(t["event_time"], r["event_time"])
        topics = list(by_topic.values())
    times = [t["event_time"] for t in topics]
    return {"as_of_time": max(times) if times else None, "topics": topics, "partitions": partitions,
            "requested_at": at}


class ReportingQueries:
    """Read-only queries over the reporting schema (time travel writes only temporary tables)."""

    def __init__(self, db: Database, clock: Any) -> None:
        self.db = db
        self.clock = clock

    @contextmanager
    def view(self, at: datetime | None = None) -> Iterator[View]:
        """One snapshot; with ``at``, the read models replayed from the inbox up to that instant."""
        with self.db.transaction() as conn:
            if at is None:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield View(conn, None, self.clock.now(), _positions(conn, None))
                return
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with as_of(conn, before=at):
                yield View(conn, at, at, _positions(conn, at))

    @staticmethod
    def _where(kind: LedgerKind, scope: Scope, filters: LedgerFilter) -> tuple[str, dict[str, Any]]:
        where, params = scope.where("x")
        for name, value in filters.values().items():
            if name in kind.filters:
                where += f" AND {kind.filters[name]}"
                params[name] = value
        return where, params

    def rows(self, view: View, kind_name: str, scope: Scope, filters: LedgerFilter, sort: str | None = None,
             page: int = 1, page_size: int = 50) -> dict[str, Any]:
        """One page of a ledger inside the scope, with its total."""
        kind = KINDS[kind_name]
        where, params = self._where(kind, scope, filters)
        params.update(now=view.now, day=view.day, limit=page_size, offset=(page - 1) * page_size)
        base = f"SELECT * FROM ({kind.select}) x WHERE {where}"
        total = view.conn.execute(f"SELECT count(*) AS n FROM ({base}) c", params).fetchone()["n"]  # type: ignore[index]
        order = order_by(kind, sort)
        items = view.conn.execute(
            f"SELECT x.*, {NAMED} FROM ({base} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s) x{NAMES} "
            f"ORDER BY {order}", params
        ).fetchall()
        if kind is KINDS["cases"]:
            items = [labels.with_owners(r) for r in items]
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    def ledger(self, scope: Scope, filters: LedgerFilter, page: int, page_size: int, sort: str | None = None,
               kind: str = "cases", at: datetime | None = None) -> dict[str, Any]:
        """A ledger page with the positions it reflects (``as_of``: per topic; ``positions``: all of it)."""
        with self.view(at) as view:
            result = self.rows(view, kind, scope, filters, sort, page, page_size)
        return {**result, "as_of": view.positions["topics"], "positions": view.positions}

    def case(self, scope: Scope, case_id: str, at: datetime | None = None) -> dict[str, Any] | None:
        """One case (its ledger row) and its steps as they were known at an instant; None outside the scope."""
        with self.view(at) as view:
            where, params = scope.where("x")
            params.update(case_id=case_id, now=view.now, day=view.day)
            row = view.conn.execute(
                f"SELECT x.*, {NAMED} FROM ({KINDS['cases'].select}) x{NAMES} WHERE {where} "
                "AND x.case_id = %(case_id)s", params
            ).fetchone()
            if row is None:
                return None
            row = labels.with_owners(row)
            steps = view.conn.execute(
                "SELECT step, at, recorded_at, actor_role, summary, topic, sequence FROM case_steps "
                "WHERE case_id = %s ORDER BY at, sequence",
                (case_id,),
            ).fetchall()
        return {"case": row, "steps": steps, "positions": view.positions}
