"""提请人民法院依法处理函: the legal documents did not bring the child back — in serious cases the matter goes to the
people's court (e.g. a circuit court, 巡回法庭) for the law's enforcement.

The policy documents name the step: "司法部门对拒不就学的儿童家长（法定监护人）依法发放相关司法文书，启动司法程序，
采取巡回法庭等方式强制执行" (肥城市教体局); "情节严重或构成犯罪的，依法追究法律责任" (鹿角镇实施方案).
"""

from __future__ import annotations

from services.casework.adapters.documents.layout import Page, common_facts, day_text, deadline_text
from services.casework.adapters.documents.legal_documents import earlier_steps
from services.casework.domain.documents import DocumentFacts


def body(page: Page, facts: DocumentFacts) -> None:
    data = facts.source.get("data", {})
    judicial = (facts.case.get("ladder") or {}).get("legal_documents")
    page.fields([*common_facts(facts), ("受文单位", "人民法院（巡回法庭）"), ("移送文书编号", data.get("document_no")),
                 ("乡镇（村）代码", facts.township_code)])
    page.gap()
    page.blank("监护人", "由经办人据学籍信息手写")
    page.blank("学生", "由经办人据学籍信息手写")
    page.gap()
    done = earlier_steps(facts)
    if judicial:
        done = (done + "；" if done else "") + (f"{day_text(judicial.get('at'))}由司法部门发放司法文书（文书编号 "
                                                f"{judicial.get('document_no')}，期限 {deadline_text(judicial.get('deadline_at'))}）")
    page.text("经查，上述适龄儿童、少年的法定监护人无正当理由拒不送被监护人入学接受义务教育。"
              + (f"有关部门已于{done}，" if done else "") + "监护人仍拒不改正，情节严重。")
    page.text("依据《中华人民共和国义务教育法》第五条、第五十八条和《中华人民共和国未成年人保护法》的规定，"
              "现将本案提请你院依法处理，启动司法程序，保障被监护人接受义务教育的权利。")
    page.text("随函附：一人一案档案、历次通知书及送达回证（按核验码可核验）。", size=10)
    page.gap(8)
    page.signatures(["提请单位（盖章）", "经办人", "日期"])
