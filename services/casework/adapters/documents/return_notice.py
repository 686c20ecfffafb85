"""劝返复学通知书: to the guardian, after persuasion failed — return the child to school by the deadline."""

from __future__ import annotations

from services.casework.adapters.documents.layout import Page, common_facts, day_text
from services.casework.domain.documents import DocumentFacts


def body(page: Page, facts: DocumentFacts) -> None:
    data = facts.source.get("data", {})
    page.fields([*common_facts(facts), ("文书编号", data.get("document_no"))])
    page.gap()
    page.blank("监护人", "由经办人据学籍信息手写")
    page.blank("学生", "由经办人据学籍信息手写")
    page.gap()
    page.text("根据《中华人民共和国义务教育法》第五条、第十一条和《中华人民共和国未成年人保护法》的规定，"
              "适龄儿童、少年的父母或者其他法定监护人应当依法保证其按时入学，接受并完成义务教育。")
    page.text(f"经核查，你的被监护人目前未按规定到校就读。请你于{day_text(facts.deadline)}前送其返回学校复学，"
              "并到学校办理相关手续。学校和当地政府将为孩子返校提供帮助。")
    page.text("逾期未送被监护人返校的，将依法责令你限期改正。")
    page.gap(8)
    page.signatures(["签发机关（盖章）", "送达人", "监护人签收", "签收日期"])
