"""The inspection aggregate (督导检查): planned, findings against units with evidence, rectification ordered with a
deadline, reported, accepted or rejected; a deadline that passes while pending escalates to the level above.

Findings record codes, hashes, dates and roles only (no free text, so no personal data); the one free text is the
inspection's title, which no public contract carries."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.reporting.domain.errors import InspectionError, InspectionForbidden

NAMESPACE = uuid.UUID("0b8f4d62-1c3e-4f7a-9d2b-5e6a7c8d9e10")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CODE = re.compile(r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?$")
# What a finding says (督导检查问题类型), the evidence kinds, and why a rectification is rejected: codes only.
FINDINGS = {
    "ledger_incomplete": "控辍保学台账不完整", "owner_missing": "劝返责任人未落实",
    "case_overdue": "劝返复学超期未办结", "report_late": "月报告迟报漏报",
    "data_mismatch": "学籍与台账数据不一致", "follow_up_missing": "复学后跟踪帮扶缺失",
    "attendance_unrecorded": "日常考勤未落实", "policy_unpublicised": "控辍保学政策宣传不到位",
}
EVIDENCE = {"photo": "现场照片", "document": "文件材料", "ledger_extract": "台账截图", "interview": "访谈记录",
            "rectification_report": "整改报告"}
REJECTIONS = {"incomplete": "整改不到位", "evidence_missing": "佐证材料不足", "not_verified": "现场核查未通过"}
SEVERITIES = {"general": "一般", "serious": "较重", "grave": "严重"}
STATUSES = {"open": "待下达整改", "pending": "整改中", "reported": "已报整改", "accepted": "整改通过",
            "overdue": "逾期未整改（已上报上级）"}
PENDING = ("pending",)


def inspection_id(actor_id: str, key: str) -> uuid.UUID:
    """An inspection's id from its planner and the client's key: a retried plan is the same inspection."""
    return uuid.uuid5(NAMESPACE, f"{actor_id}|{key}")


def level_above(code: str, school_id: str | None) -> str | None:
    """The unit a finding escalates to: a school's township, a township's county, ... (None above the province)."""
    if school_id:
        return code
    return {4: code[:2], 6: code[:4], 9: code[:6]}.get(len(code))


def require_evidence(items: list[dict[str, str]]) -> list[dict[str, str]]:
    for i, item in enumerate(items):
        if not SHA256.match(item.get("sha256", "")):
            raise InspectionError(f"evidence[{i}].sha256 须为 64 位小写十六进制", "evidence_sha256", status=422)
        if item.get("code") not in EVIDENCE:
            raise InspectionError(f"evidence[{i}].code 不在佐证材料类型内", "evidence_code", status=422)
    return [{"sha256": x["sha256"], "code": x["code"]} for x in items]


class Inspection(Aggregate):
    """One supervision inspection of a jurisdiction and the findings it recorded."""

    @staticmethod
    def create_id(planner_id: str, key: str, **_: Any) -> uuid.UUID:
        return inspection_id(planner_id, key)

    @event("Planned")
    def __init__(self, planner_id: str, key: str, code: str, title: str, planned_on: str, by_role: str,
                 at: str) -> None:
        self.planner_id, self.key, self.code, self.title, self.planned_on = planner_id, key, code, title, planned_on
        self.by_role, self.planned_at = by_role, at
        self.findings: dict[str, dict[str, Any]] = {}

    # -- findings --------------------------------------------------------------------------------
    def record_finding(self, finding_id: str, unit_code: str, school_id: str | None, description_code: str,
                       severity: str, evidence: list[dict[str, str]], by_role: str, at: str) -> bool:
        """Records a finding; the same finding again is harmless (False), a different one under its id is a 409."""
        if description_code not in FINDINGS:
            raise InspectionError("description_code 不在问题类型内", "description_code", status=422)
        if severity not in SEVERITIES:
            raise InspectionError("severity 须为 general、serious 或 grave", "severity", status=422)
        if not CODE.match(unit_code) or not unit_code.startswith(self.code):
            raise InspectionError("unit_code 须在本次检查的辖区内", "unit_inside_inspection", status=422)
        if school_id and len(unit_code) != 9:
            raise InspectionError("学校的 unit_code 须为其乡镇（9 位）", "school_township", status=422)
        evidence = require_evidence(evidence)
        facts = {"unit_code": unit_code, "school_id": school_id, "description_code": description_code,
                 "severity": severity, "evidence": evidence}
        old = self.findings.get(finding_id)
        if old is not None:
            if {k: old[k] for k in facts} == facts:
                return False
            raise InspectionError(f"问题 {finding_id} 已以不同内容登记", "finding_once")
        self._finding_recorded(finding_id=finding_id, inspection_code=self.code, by_role=by_role, at=at, **facts)
        return True

    @event("FindingRecorded")
    def _finding_recorded(self, finding_id: str, inspection_code: str, unit_code: str, school_id: str | None,
                          description_code: str, severity: str, evidence: list[dict[str, str]], by_role: str,
                          at: str) -> None:
        self.findings[finding_id] = {
            "finding_id": finding_id, "unit_code": unit_code, "school_id": school_id,
            "description_code": description_code, "severity": severity, "evidence": evidence,
            "status": "open", "deadline": None, "reminded": [], "escalated_to": None, "recorded_at": at,
            "history": [{"action": "recorded", "at": at, "role": by_role}],
        }

    def finding(self, finding_id: str) -> dict[str, Any]:
        if finding_id not in self.findings:
            raise InspectionError(f"问题 {finding_id} 不存在", "finding_exists", status=404)
        return self.findings[finding_id]

    # -- rectification ---------------------------------------------------------------------------
    def order(self, finding_id: str, deadline: date, today: date, by_role: str, at: str) -> bool:
        f = self.finding(finding_id)
        if f["status"] == "pending" and f["deadline"] == deadline.isoformat():
            return False
        if f["status"] != "open":
            raise InspectionError("只有待下达整改的问题可以下达整改通知", "order_open")
        if deadline <= today:
            raise InspectionError("deadline 须晚于今天", "deadline_future", status=422)
        self._ordered(finding_id=finding_id, deadline=deadline.isoformat(), by_role=by_role, at=at)
        return True

    @event("RectificationOrdered")
    def _ordered(self, finding_id: str, deadline: str, by_role: str, at: str) -> None:
        f = self.findings[finding_id]
        f.update(status="pending", deadline=deadline, reminded=[])
        f["history"].append({"action": "ordered", "at": at, "role": by_role, "deadline": deadline})

    def report(self, finding_id: str, evidence: list[dict[str, str]], by_role: str, at: str) -> bool:
        f = self.finding(finding_id)
        evidence = require_evidence(evidence)
        if f["status"] == "reported" and f["history"][-1].get("evidence") == evidence:
            return False
        if f["status"] not in PENDING:
            raise InspectionError("只有整改中的问题可以报送整改情况", "report_pending")
        if not evidence:
            raise InspectionError("evidence 至少一项", "evidence_required", status=422)
        self._reported(finding_id=finding_id, evidence=evidence, by_role=by_role, at=at)
        return True

    @event("RectificationReported")
    def _reported(self, finding_id: str, evidence: list[dict[str, str]], by_role: str, at: str) -> None:
        f = self.findings[finding_id]
        f["status"] = "reported"
        f["history"].append({"action": "reported", "at": at, "role": by_role, "evidence": evidence})

    def accept(self, finding_id: str, by_role: str, at: str) -> bool:
        f = self.finding(finding_id)
        if f["status"] == "accepted":
            return False
        if f["status"] != "reported":
            raise InspectionError("只有已报整改的问题可以验收", "accept_reported")
        self._accepted(finding_id=finding_id, by_role=by_role, at=at)
        return True

    @event("RectificationAccepted")
    def _accepted(self, finding_id: str, by_role: str, at: str) -> None:
        f = self.findings[finding_id]
        f["status"] = "accepted"
        f["history"].append({"action": "accepted", "at": at, "role": by_role})

    def reject(self, finding_id: str, reason_code: str, new_deadline: date, today: date, by_role: str,
               at: str) -> None:
        f = self.finding(finding_id)
        if reason_code not in REJECTIONS:
            raise InspectionError("reason_code 不在退回原因内", "reason_code", status=422)
        if f["status"] != "reported":
            raise InspectionError("只有已报整改的问题可以退回", "reject_reported")
        if new_deadline <= today:
            raise InspectionError("new_deadline 须晚于今天", "deadline_future", status=422)
        self._rejected(finding_id=finding_id, reason_code=reason_code, deadline=new_deadline.isoformat(),
                       by_role=by_role, at=at)

    @event("RectificationRejected")
    def _rejected(self, finding_id: str, reason_code: str, deadline: str, by_role: str, at: str) -> None:
        f = self.findings[finding_id]
        f.update(status="pending", deadline=deadline, reminded=[])
        f["history"].append({"action": "rejected", "at": at, "role": by_role, "reason_code": reason_code,
                             "deadline": deadline})

    # -- the durable timer -----------------------------------------------------------------------
    def remind(self, finding_id: str, today: date, days_before: tuple[int, ...], at: str) -> int | None:
        """A reminder when the deadline is within one of ``days_before`` days (once per step), while pending."""
        f = self.finding(finding_id)
        if f["status"] not in PENDING:
            return None
        left = (date.fromisoformat(f["deadline"]) - today).days
        due = sorted(d for d in days_before if 0 <= left <= d and d not in f["reminded"])
        if not due:
            return None
        self._reminded(finding_id=finding_id, unit_code=f["unit_code"], school_id=f["school_id"],
                       deadline=f["deadline"], steps=due, days_left=left, at=at)
        return left

    @event("RectificationReminded")
    def _reminded(self, finding_id: str, unit_code: str, school_id: str | None, deadline: str, steps: list[int],
                  days_left: int, at: str) -> None:
        f = self.findings[finding_id]
        f["reminded"] = sorted({*f["reminded"], *steps})
        f["history"].append({"action": "reminded", "at": at, "days_left": days_left})

    def pass_deadline(self, finding_id: str, today: date, at: str) -> str | None:
        """Fires only while pending and after the deadline's day: DeadlinePassed, then Escalated to the level above."""
        f = self.finding(finding_id)
        if f["status"] not in PENDING or today <= date.fromisoformat(f["deadline"]):
            return None
        self._deadline_passed(finding_id=finding_id, deadline=f["deadline"], at=at)
        above = level_above(f["unit_code"], f["school_id"]) or f["unit_code"]
        self._escalated(finding_id=finding_id, unit_code=f["unit_code"], school_id=f["school_id"],
                        deadline=f["deadline"], to_code=above, at=at)
        return above

    @event("DeadlinePassed")
    def _deadline_passed(self, finding_id: str, deadline: str, at: str) -> None:
        f = self.findings[finding_id]
        f["status"] = "overdue"
        f["history"].append({"action": "deadline_passed", "at": at, "deadline": deadline})

    @event("FindingEscalated")
    def _escalated(self, finding_id: str, unit_code: str, school_id: str | None, deadline: str, to_code: str,
                   at: str) -> None:
        f = self.findings[finding_id]
        f["escalated_to"] = to_code
        f["history"].append({"action": "escalated", "at": at, "to_code": to_code})


def require_inspector(inspection: Inspection, actor: Any) -> None:
    """Findings are recorded and judged by the inspecting level: officers whose jurisdiction holds the inspection."""
    if actor.role != "admin" and not inspection.code.startswith(actor.jurisdiction):
        raise InspectionForbidden("只有本次检查的督导部门可以操作", "inspector_only")


def require_inspected(finding: dict[str, Any], actor: Any) -> None:
    """Rectification is reported by the inspected unit itself (school staff of the school, or the unit's officers)."""
    code, school = finding["unit_code"], finding["school_id"]
    if actor.role == "admin":
        return
    if school:
        own = actor.role in ("school_staff", "township_officer") and code.startswith(actor.jurisdiction) and (
            actor.role != "school_staff" or not actor.schools or school in actor.schools)
    else:
        own = actor.role != "school_staff" and actor.jurisdiction == code
    if not own:
        raise InspectionForbidden("只有被检查单位本身可以报送整改情况", "inspected_unit_only")
