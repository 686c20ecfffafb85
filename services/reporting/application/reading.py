"""Reading use cases: ledgers (and their exports), case timelines, dashboards and the BI feed, each inside the
caller's scope and as of a day (who may read at all: roles.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.reporting.adapters import bi, dashboards, exports
from services.reporting.adapters.ledgers import KINDS
from services.reporting.adapters.queries import LedgerFilter, ReportingQueries, Scope
from services.reporting.domain.calendar import start_of
from services.reporting.domain.errors import BadSort, NothingToShow, OutOfJurisdiction
from services.runtime.auth import Actor

EXPORT_LIMIT = 100_000


def scope_of(actor: Actor) -> Scope:
    """The caller's visibility: jurisdiction prefix, and for school staff bound to schools, those schools."""
    schools = tuple(actor.schools) if actor.role == "school_staff" and actor.schools else None
    return Scope(actor.jurisdiction, schools)


def require_overlap(actor: Actor, code: str, what: str) -> None:
    """A filter may be wider or narrower than the caller's jurisdiction, never beside it (403)."""
    if not (code.startswith(actor.jurisdiction) or actor.jurisdiction.startswith(code)):
        raise OutOfJurisdiction(f"{what} {code} 不在您的辖区 {actor.jurisdiction} 内")


def cut(as_of: date | None, today: date) -> datetime | None:
    """'As of a date' means at the end of that day (China time); today or later is live."""
    if as_of is None or as_of >= today:
        return None
    return start_of(as_of + timedelta(days=1))


@dataclass(frozen=True)
class Export:
    """A ledger file and the rows it holds (for the read audit)."""

    items: list[dict[str, Any]]
    body: bytes
    media_type: str
    filename: str


class Reading:
    """The read use cases over the read models (queries and clock from the bootstrap)."""

    def __init__(self, queries: ReportingQueries, clock: Any, targets: dict[str, dict[str, float]]) -> None:
        self.queries, self.clock, self.targets = queries, clock, targets

    def _checked(self, actor: Actor, filters: LedgerFilter, as_of: date | None) -> datetime | None:
        for name in ("township_code", "county_code", "code"):
            if name in filters.extra:
                require_overlap(actor, str(filters.extra[name]), "辖区")
        return cut(as_of, self.clock.today())

    def ledger(self, actor: Actor, kind: str, filters: LedgerFilter, page: int, page_size: int,
               sort: str | None, as_of: date | None) -> dict[str, Any]:
        """One page of a ledger inside the caller's scope, with the positions it reflects."""
        at = self._checked(actor, filters, as_of)
        try:
            return self.queries.ledger(scope_of(actor), filters, page, page_size, sort, kind, at)
        except KeyError as exc:
            raise BadSort(f"不支持的排序字段 {sort}") from exc

    def export(self, actor: Actor, kind: str, filters: LedgerFilter, format: str, sort: str | None,
               as_of: date | None) -> Export:
        """Every matching row of a ledger as CSV or XLSX, its first line saying what it reflects."""
        result = self.ledger(actor, kind, filters, 1, EXPORT_LIMIT, sort, as_of)
        spec = KINDS[kind]
        caption = exports.caption(spec, result["positions"], actor.jurisdiction)
        stamp = (as_of or self.clock.today()).isoformat()
        if format == "csv":
            body, media = exports.to_csv(spec, result["items"], caption), "text/csv; charset=utf-8"
        else:
            body = exports.to_xlsx(spec, result["items"], caption)
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Export(result["items"], body, media, f"{kind}-{actor.jurisdiction}-{stamp}.{format}")

    def case(self, actor: Actor, case_id: str, as_of: date | None) -> dict[str, Any]:
        """A case and its steps as known at the end of a day."""
        found = self.queries.case(scope_of(actor), case_id, cut(as_of, self.clock.today()))
        if found is None:
            raise NothingToShow(f"个案 {case_id} 不存在或不在您的辖区（或当时尚未立案）")
        return found

    def dashboard(self, actor: Actor, code: str, school_id: str | None, as_of: date | None) -> dict[str, Any]:
        """The figures of a unit (or a school) and its children, as of a day."""
        if not code.startswith(actor.jurisdiction) and not (school_id is None and actor.jurisdiction.startswith(code)):
            require_overlap(actor, code, "辖区")
        with self.queries.view(cut(as_of, self.clock.today())) as view:
            result = dashboards.dashboard(view, scope_of(actor), code, school_id, self.targets)
        if result is None:
            raise NothingToShow(f"{code} 暂无学校或案件数据")
        return result

    def counties(self, actor: Actor) -> dict[str, Any]:
        """Open suspected dropouts and cases per county in the caller's scope (the walking-skeleton shape)."""
        with self.queries.view() as view:
            units, _ = dashboards.leaves(view, scope_of(actor))
            codes = sorted({t[:6] for t, _ in units if len(t) >= 6})
            rows = []
            for c in codes:
                u = dashboards.unit_of(units, c).counts
                rows.append({"county_code": c, "open_suspected_dropouts": u["open_suspected_dropouts"],
                             "cases": u["cases"]})
        return {"counties": rows, "as_of": view.positions["topics"]}

    def county(self, actor: Actor, county_code: str) -> dict[str, Any]:
        """One county with its townships that have cases (the walking-skeleton shape, kept for its clients)."""
        require_overlap(actor, county_code, "县")
        result = self.dashboard(actor, county_code, None, None)
        f = result["figures"]
        return {
            "county_code": county_code, "open_suspected_dropouts": f["open_suspected_dropouts"], "cases": f["cases"],
            "townships": [{"township_code": c["code"], "open_suspected_dropouts": c["figures"]["open_suspected_dropouts"],
                           "cases": c["figures"]["cases"]} for c in result["children"] if c["figures"]["cases"]],
            "as_of": result["positions"]["topics"], "figures": f,
        }

    def bi_datasets(self) -> dict[str, Any]:
        """The BI datasets (facts and dimensions) and their descriptions."""
        with self.queries.view() as view:
            rows = bi.datasets(view.conn)
        return {"datasets": rows, "schema": "bi"}

    def bi_page(self, actor: Actor, dataset: str, page: int, page_size: int) -> dict[str, Any]:
        """One BI dataset, paged, inside the caller's jurisdiction."""
        if dataset not in bi.DATASETS and dataset != "dim_date":
            raise NothingToShow(f"没有数据集 {dataset}")
        with self.queries.view() as view:
            rows = bi.page_of(view.conn, dataset, scope_of(actor), page, page_size)
        return {"dataset": dataset, "items": rows, "page": page, "page_size": page_size,
                "positions": view.positions}
