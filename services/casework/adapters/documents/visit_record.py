"""家访记录: one recorded home visit, printed for the visitors and the family to sign."""

from __future__ import annotations

from services.casework.adapters.documents.layout import Page, common_facts, time_text
from services.casework.domain.documents import DocumentFacts


def body(page: Page, facts: DocumentFacts) -> None:
    data = facts.source.get("data", {})
    page.fields([*common_facts(facts), ("记录编号", data.get("record_id")),
                 ("走访时间", time_text(data.get("visited_at"))),
                 ("走访人员（工号）", "、".join(data.get("visitors") or []) or "—"),
                 ("接待人员", "、".join(data.get("met") or []) or "—"),
                 ("佐证材料", f"{len(data.get('evidence') or [])} 份（按摘要存档）")])
    page.gap()
    page.heading("走访情况")
    page.text(data.get("findings"))
    page.gap(8)
    page.signatures(["走访人员签名", "被访人签名", "日期"])
