"""责令限期改正通知书: the guardian ignored the return notice — the law's order to correct by the deadline."""

from __future__ import annotations

from services.casework.adapters.documents.layout import Page, common_facts, day_text
from services.casework.domain.documents import DocumentFacts


def body(page: Page, facts: DocumentFacts) -> None:
    data = facts.source.get("data", {})
    notice = (facts.case.get("ladder") or {}).get("return_notice")
    page.fields([*common_facts(facts), ("文书编号", data.get("document_no"))])
    page.gap()
    page.blank("监护人", "由经办人据学籍信息手写")
    page.blank("学生", "由经办人据学籍信息手写")
    page.gap()
    earlier = (f"本机关已于{day_text(notice.get('at'))}向你送达劝返复学通知书（文书编号 {notice.get('document_no')}），"
               "你未按期送其返校。") if notice else ""
    page.text("经查，你作为适龄儿童、少年的法定监护人，未依法送被监护人入学接受义务教育。" + earlier)
    page.text(f"依据《中华人民共和国义务教育法》第五条、第五十八条的规定，现责令你于{day_text(facts.deadline)}前改正，"
              "送被监护人返回学校就读。")
    page.text("逾期仍不改正的，将依法给予批评教育，并可依法移送司法机关处理。")
    page.gap(8)
    page.signatures(["签发机关（盖章）", "送达人", "监护人签收", "签收日期"])
