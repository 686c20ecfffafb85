"""Inspection use cases (督导检查): plan, record findings, order, report, accept or reject rectification; the
durable timer's tick (reminders before a deadline, DeadlinePassed and escalation after it); reads and 通报 lists.

Inspections have their own event store (``InspectionsApplication``, table ``inspections_events`` in schema
``reporting``) beside the monthly reports', so each store's notification log holds one kind of aggregate."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Callable, Protocol

from services.reporting.domain import inspections as rules
from services.reporting.domain.errors import InspectionError, InspectionForbidden, InspectionNotFound
from services.reporting.domain.inspections import Inspection
from services.runtime.aggregates import require, save_with_retry
from services.runtime.auth import Actor
from services.runtime.eventstore import ServiceApplication


class InspectionsApplication(ServiceApplication):
    name = "Inspections"


class InspectionIndex(Protocol):
    """Findings by unit and deadline, and the alerts addressed to units (projections of the inspection store)."""

    def put(self, inspections: Any) -> None: ...

    def alert(self, rows: Any) -> None: ...

    def due(self, today: date, horizon_days: int) -> list[dict[str, Any]]: ...

    def findings(self, code: str, schools: Any, day: date, status: str | None = None, since: date | None = None,
                 until: date | None = None) -> list[dict[str, Any]]: ...

    def alerts(self, code: str, schools: Any) -> list[dict[str, Any]]: ...

    def clear(self) -> None: ...


def _schools(actor: Actor) -> tuple[str, ...] | None:
    return tuple(actor.schools) if actor.role == "school_staff" and actor.schools else None


class Inspections:
    """Use cases over the inspection store and its index (collaborators from the bootstrap)."""

    def __init__(self, app: InspectionsApplication, index: InspectionIndex, clock: Any,
                 remind_days: tuple[int, ...] = (7, 3, 1), cards: Any = None) -> None:
        self.app, self.index, self.clock, self.remind_days = app, index, clock, tuple(remind_days)
        self.cards = cards  # the scorecards (Scorecards.notice), for the 通报's scorecard lists

    def notice_scorecards(self, actor: Actor, period: str | None) -> dict[str, Any] | None:
        """The scorecard lists of a 通报 (bottom, below target, 一票否决) when a period is asked for."""
        if period is None or self.cards is None:
            return None
        return self.cards.notice(actor, period)

    # -- commands --------------------------------------------------------------------------------
    def plan(self, actor: Actor, key: str, code: str, title: str, planned_on: date) -> dict[str, Any]:
        """Plans an inspection of ``code`` (inside the caller's jurisdiction); the same key again is the same one."""
        if actor.role != "admin" and not code.startswith(actor.jurisdiction):
            raise InspectionForbidden("检查对象不在您的辖区内", "out_of_jurisdiction")
        iid = rules.inspection_id(actor.user_id, key)

        def attempt() -> Inspection:
            existing = self._load(iid)
            if existing is None:
                return Inspection(planner_id=actor.user_id, key=key, code=code, title=title,
                                  planned_on=planned_on.isoformat(), by_role=actor.role, at=self._now())
            if (existing.code, existing.title, existing.planned_on) != (code, title, planned_on.isoformat()):
                raise InspectionError("该请求键已用于另一项督导检查", "plan_once")
            return existing

        return public(save_with_retry(attempt, self.app.save))

    def record_finding(self, actor: Actor, iid: str, finding_id: str, unit_code: str, school_id: str | None,
                       description_code: str, severity: str, evidence: list[dict[str, str]]) -> dict[str, Any]:
        def act(i: Inspection) -> bool:
            rules.require_inspector(i, actor)
            return i.record_finding(self._fid(i, finding_id), unit_code, school_id, description_code, severity,
                                    evidence, actor.role, self._now())
        return self._act(iid, act)

    def order(self, actor: Actor, iid: str, finding_id: str, deadline: date) -> dict[str, Any]:
        def act(i: Inspection) -> bool:
            rules.require_inspector(i, actor)
            return i.order(self._fid(i, finding_id), deadline, self.clock.today(), actor.role, self._now())
        return self._act(iid, act)

    def report(self, actor: Actor, iid: str, finding_id: str, evidence: list[dict[str, str]]) -> dict[str, Any]:
        def act(i: Inspection) -> bool:
            fid = self._fid(i, finding_id)
            rules.require_inspected(i.finding(fid), actor)
            return i.report(fid, evidence, actor.role, self._now())
        return self._act(iid, act)

    def accept(self, actor: Actor, iid: str, finding_id: str) -> dict[str, Any]:
        def act(i: Inspection) -> bool:
            rules.require_inspector(i, actor)
            return i.accept(self._fid(i, finding_id), actor.role, self._now())
        return self._act(iid, act)

    def reject(self, actor: Actor, iid: str, finding_id: str, reason_code: str, new_deadline: date) -> dict[str, Any]:
        def act(i: Inspection) -> bool:
            rules.require_inspector(i, actor)
            i.reject(self._fid(i, finding_id), reason_code, new_deadline, self.clock.today(), actor.role, self._now())
            return True
        return self._act(iid, act)

    # -- the durable timer -----------------------------------------------------------------------
    def tick(self) -> dict[str, int]:
        """Reminds pending findings near their deadline and escalates those past it (only while pending); one load
        and one save per inspection, however many of its findings fall due."""
        today, done = self.clock.today(), {"reminded": 0, "escalated": 0}
        due: dict[Any, list[str]] = {}
        for row in self.index.due(today, max(self.remind_days, default=0)):
            due.setdefault(row["inspection_id"], []).append(row["finding_id"])
        for iid, fids in due.items():
            alerts: list[dict[str, Any]] = []

            def attempt(iid: Any = iid, fids: list[str] = fids) -> Inspection:
                alerts.clear()
                inspection = self._get(iid)
                for fid in fids:
                    alerts.extend(self._timer(inspection, fid, today))
                return inspection

            save_with_retry(attempt, self._save_changed)
            if alerts:
                self.index.put([self._get(iid)])
                self.index.alert(alerts)
            done["reminded"] += sum(a["kind"] == "reminder" for a in alerts)
            done["escalated"] += sum(a["kind"] == "escalation" for a in alerts)
        return done

    def _timer(self, i: Inspection, fid: str, today: date) -> list[dict[str, Any]]:
        """One finding's turn of the timer: escalation after the deadline, else a reminder when one is due."""
        f, at = i.finding(fid), self._now()
        base = {"finding_id": fid, "inspection_id": i.id, "school_id": f["school_id"], "at": at}
        deadline = f["deadline"]
        above = i.pass_deadline(fid, today, at)
        if above is not None:
            return [{**base, "kind": "escalation", "step": deadline, "recipient_code": above, "school_id": None,
                     "days_left": None},
                    {**base, "kind": "overdue", "step": deadline, "recipient_code": f["unit_code"], "days_left": None}]
        left = i.remind(fid, today, self.remind_days, at)
        if left is None:
            return []
        return [{**base, "kind": "reminder", "step": f"{deadline}:{left}", "recipient_code": f["unit_code"],
                 "days_left": left}]

    # -- reads -----------------------------------------------------------------------------------
    def get(self, actor: Actor, iid: str) -> dict[str, Any]:
        """The whole inspection for its inspecting level and above; a unit inside it sees its own findings only."""
        inspection = self._get(iid)
        if actor.role == "admin" or inspection.code.startswith(actor.jurisdiction):
            return public(inspection)
        schools = _schools(actor)
        mine = [f for f in inspection.findings.values() if f["unit_code"].startswith(actor.jurisdiction)
                and (schools is None or f["school_id"] in schools)]
        if not mine:
            raise InspectionNotFound(f"督导检查 {iid} 不存在或不在您的辖区内")
        return {**public(inspection), "findings": mine}

    def findings(self, actor: Actor, status: str | None = None, since: date | None = None,
                 until: date | None = None) -> list[dict[str, Any]]:
        return self.index.findings(actor.jurisdiction, _schools(actor), self.clock.today(), status, since, until)

    def alerts(self, actor: Actor) -> list[dict[str, Any]]:
        return self.index.alerts(actor.jurisdiction, _schools(actor))

    def rebuild_index(self) -> int:
        """Rebuilds the finding index from the inspection store (it is a projection too)."""
        ids, start = [], 1
        while page := self.app.recorder.select_notifications(start=start, limit=1000):
            ids.extend(n.originator_id for n in page)
            start = page[-1].id + 1
        unique = list(dict.fromkeys(ids))
        self.index.clear()
        self.index.put([self._get(i) for i in unique])
        return len(unique)

    # -- helpers ---------------------------------------------------------------------------------
    def _save_changed(self, inspection: Inspection) -> None:
        """Saves only when the timer recorded something (a quiet tick writes nothing)."""
        if inspection.pending_events:
            self.app.save(inspection)

    def _now(self) -> str:
        return self.clock.now().isoformat()

    @staticmethod
    def _fid(inspection: Inspection, finding_id: str) -> str:
        """Finding ids are the client's, scoped to their inspection (so two inspections never share one)."""
        return finding_id if finding_id.startswith(f"{inspection.id}:") else f"{inspection.id}:{finding_id}"

    def _load(self, iid: Any) -> Inspection | None:
        try:
            return self._get(iid)
        except InspectionNotFound:
            return None

    def _get(self, iid: Any) -> Inspection:
        try:
            aggregate_id = iid if isinstance(iid, uuid.UUID) else uuid.UUID(str(iid))
        except ValueError as exc:
            raise InspectionNotFound(f"督导检查 {iid} 不存在") from exc
        return require(self.app.repository, Inspection, aggregate_id,
                       lambda: InspectionNotFound(f"督导检查 {iid} 不存在"))

    def _act(self, iid: str, act: Callable[[Inspection], bool]) -> dict[str, Any]:
        """Load, act, save (again after a concurrent write); a repeated command changes nothing and answers the same."""
        changed = [False]

        def attempt() -> Inspection:
            inspection = self._get(iid)
            changed[0] = act(inspection)
            return inspection

        inspection = save_with_retry(attempt, self.app.save)
        if changed[0]:
            self.index.put([inspection])
        return public(inspection)


def public(i: Inspection) -> dict[str, Any]:
    """What a reader sees of an inspection: codes, dates, roles, hashes (no personal data is ever recorded)."""
    return {"inspection_id": str(i.id), "code": i.code, "title": i.title, "planned_on": i.planned_on,
            "planned_at": i.planned_at, "findings": list(i.findings.values()), "version": i.version}
