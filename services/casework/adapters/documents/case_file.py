"""一人一案档案: the case as recorded up to one event, for auditors — owners, work, legal steps, its history."""

from __future__ import annotations

from typing import Any

from services.casework.adapters.documents.layout import Page, common_facts, day_text, deadline_text, time_text
from services.casework.domain.codes import LINES, OWNER_SLOTS, STAGE_LABELS, STEP_LABELS
from services.casework.domain.documents import DocumentFacts

SOURCES = {"attendance": "考勤（疑似辍学）", "census": "比对（失学）", "transfer": "转学未接续", "transition": "小升初未入学",
           "report": "报告"}
RECORD_KINDS = {"home_visit": "家访", "persuasion": "劝返", "help": "帮扶", "plan": "方案", "evidence": "证据"}


def body(page: Page, facts: DocumentFacts) -> None:
    case: dict[str, Any] = facts.case
    page.fields([*common_facts(facts), ("档案截至", f"第 {facts.source_version} 条记录"),
                 ("学生标识", case.get("student_id")), ("学校标识", case.get("school_id")),
                 ("乡镇（村）代码", case.get("township_code")), ("来源", SOURCES.get(case.get("source"), case.get("source"))),
                 ("立案时间", time_text(case.get("opened_at"))),
                 ("当前阶段", STAGE_LABELS.get(case.get("stage"), case.get("stage")))])
    page.heading("双线四包责任人")
    owners = case.get("owners") or []
    page.fields([(f"{LINES[OWNER_SLOTS[o['slot']][0]]} {OWNER_SLOTS[o['slot']][1]}", o.get("user_id")) for o in owners]
                or [("责任人", "尚未指派")])
    page.heading("工作记录")
    records = case.get("records") or []
    for r in records:
        page.text(f"{time_text(r.get('at'))}　{RECORD_KINDS.get(r.get('kind'), r.get('kind'))}　记录 {r.get('record_id')}"
                  f"　经办 {r.get('actor_id')}", size=10)
    if not records:
        page.text("无", size=10)
    page.heading("依法控辍")
    ladder = case.get("ladder") or {}
    for step, taken in ladder.items():
        page.text(f"{STEP_LABELS.get(step, step)}：{day_text(taken.get('at'))} 发出，文书编号 {taken.get('document_no')}，"
                  f"期限 {deadline_text(taken.get('deadline_at'))}", size=10)
    if not ladder:
        page.text("无", size=10)
    if case.get("returned"):
        page.heading("复学")
        page.text(f"{day_text(case['returned'].get('returned_on'))} 复学，跟踪至 "
                  f"{day_text(case['returned'].get('follow_up_until'))}", size=10)
    page.heading("记录（哈希链）")
    for h in facts.history:
        page.text(f"#{h.get('version')}　{time_text(h.get('at') or h.get('recorded_at'))}　{h.get('event')}　"
                  f"{h.get('actor_role') or ''}　{(h.get('chain') or '')[:16]}", size=9)
    page.gap(8)
    page.signatures(["审核人签名", "日期"])
