// Inspection tracker (督导检查整改跟踪): findings inside the caller's jurisdiction, their deadlines, alerts, the 通报 PDF.
Baoxue.requireLogin(); Baoxue.header();
const q = new URLSearchParams(location.search);
document.getElementById("status").value = q.get("status") || "";
document.getElementById("period").value = q.get("period") || "";
document.getElementById("f").addEventListener("submit", (e) => {
  e.preventDefault();
  q.set("status", document.getElementById("status").value);
  const period = document.getElementById("period").value.trim();
  if (period) q.set("period", period); else q.delete("period");
  location.search = q;
});
// with a scorecard period the notice also lists the bottom of the ranking, units below target and 一票否决
document.getElementById("pdf").addEventListener("click", () => {
  const period = document.getElementById("period").value.trim();
  const extra = period ? "&period=" + encodeURIComponent(period) : "";
  Baoxue.download("/v1/inspections/notice?format=pdf" + extra, "督导检查结果通报.pdf");
});
const STATUS = { open: "待下达整改", pending: "整改中", reported: "已报整改", accepted: "整改通过", overdue: "逾期未整改（已上报上级）" };
const SEVERITY = { general: "一般", serious: "较重", grave: "严重" };
const KIND = { reminder: "整改期限提醒", overdue: "逾期通知", escalation: "逾期上报上级" };
(async () => {
  let listing, alerts;
  try {
    const period = q.get("period");
    listing = await Baoxue.api("/v1/inspections/notice" + (period ? "?period=" + encodeURIComponent(period) : ""));
    alerts = await Baoxue.api("/v1/inspections/alerts");
  } catch (e) { Baoxue.failed(e); return; }
  const wanted = q.get("status");
  const items = listing.items.filter(r => !wanted || r.status === wanted);
  const c = listing.counts;
  Baoxue.fill("summary", `共 ${listing.items.length} 个问题：逾期 ${c.overdue}，整改中 ${c.pending}，已报整改 ${c.reported}，整改通过 ${c.accepted}，待下达 ${c.open}`);
  Baoxue.table("rows", ["检查", "被检查单位", "学校", "问题", "程度", "整改期限", "状态", "上报上级"], items.map(r => [
    r.title, Baoxue.place(r.unit_name, r.unit_code), r.school_name || "", r.description, r.severity, r.deadline || "—",
    Baoxue.el("span", { class: r.status === "overdue" ? "bad" : "" }, STATUS[r.status] || r.status),
    r.escalated_to ? Baoxue.place(r.escalated_to_name, r.escalated_to) : ""]));
  Baoxue.table("alerts", ["时间", "类型", "接收单位", "剩余天数", "问题编号"], alerts.items.map(a => [
    new Date(a.at).toLocaleString("zh-CN"), KIND[a.kind] || a.kind, a.recipient_code,
    a.days_left === null ? "—" : a.days_left, a.finding_id.split(":").pop()]));
  const cards = listing.scorecards;  // with a period: the scorecard lists of the 通报
  if (cards) {
    const missed = (u) => u.figures.map(f => `${f.label} ${f.value ?? "—"} / ${f.target ?? "—"}`).join("；") || "—";
    Baoxue.fill("cards-summary", `考核期 ${cards.period}，参评单位 ${cards.ranked} 个：一票否决 ${cards.vetoed.length}，排名靠后 ${cards.bottom.length}，未达目标 ${cards.below_target.length}`);
    Baoxue.table("cards", ["类别", "单位", "得分", "排名", "未达目标的指标（实际值 / 目标值）"],
      [["一票否决", cards.vetoed], ["排名靠后", cards.bottom], ["未达目标", cards.below_target]].flatMap(([kind, list]) =>
        list.map(u => [kind, Baoxue.place(u.name, u.code), u.score.toFixed(2), `${u.rank}/${u.ranked}`, missed(u)])));
  }
  document.body.dataset.rendered = "yes";
})();
