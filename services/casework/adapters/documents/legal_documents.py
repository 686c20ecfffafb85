"""提请依法发放司法文书函: the guardian ignored the correction order — the education bureau and the township ask the
justice department to issue the legal documents (司法文书) that urge the guardian to send the child to school, and the
letter records the 司法文书 the justice office issued for the step (its number and deadline).

The policy documents name the step: "逾期不改的，提请司法部门依法发放相关司法文书，敦促其送被监护人接受义务教育"
(肥城市教体局, 强制入学制度); "由司法部门依法发放相关司法文书，敦促其保证辍学学生尽早复学" (鹿角镇实施方案).
"""

from __future__ import annotations

from services.casework.adapters.documents.layout import Page, common_facts, day_text, deadline_text
from services.casework.domain.documents import DocumentFacts


def earlier_steps(facts: DocumentFacts) -> str:
    """What was done before, as the case recorded it (notice and order: their day, number and deadline)."""
    ladder = facts.case.get("ladder") or {}
    parts = []
    for step, label in (("return_notice", "书面复学通知书"), ("correction_order", "责令限期改正通知书")):
        taken = ladder.get(step)
        if taken:
            parts.append(f"{day_text(taken.get('at'))}送达{label}（文书编号 {taken.get('document_no')}，"
                         f"期限 {deadline_text(taken.get('deadline_at'))}）")
    return "；".join(parts)


def body(page: Page, facts: DocumentFacts) -> None:
    data = facts.source.get("data", {})
    page.fields([*common_facts(facts), ("受文单位", "司法行政部门（司法所）"),
                 ("乡镇（村）代码", facts.township_code)])
    page.gap()
    page.blank("监护人", "由经办人据学籍信息手写")
    page.blank("学生", "由经办人据学籍信息手写")
    page.gap()
    done = earlier_steps(facts)
    page.text("经查，上述适龄儿童、少年的法定监护人无正当理由未送被监护人入学接受义务教育。"
              + (f"我单位已于{done}，" if done else "") + "监护人逾期仍未改正。")
    page.text("依据《中华人民共和国义务教育法》第五条、第五十八条和《中华人民共和国未成年人保护法》的规定，"
              "现提请你单位依法发放相关司法文书，敦促其送被监护人返校接受义务教育。")
    page.heading("司法文书发放情况")
    page.fields([("司法文书编号", data.get("document_no")), ("敦促复学期限", deadline_text(data.get("deadline_at"))),
                 ("记录时间", day_text((facts.source.get("at") or facts.source.get("recorded_at"))))])
    page.text("逾期仍不送被监护人返校、情节严重的，依法追究法律责任。", size=10)
    page.gap(8)
    page.signatures(["提请单位（盖章）", "司法所（盖章）", "经办人", "日期"])
