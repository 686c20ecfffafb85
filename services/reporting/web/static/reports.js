// Monthly reports (月报): list by month, download, submit, approve.
Baoxue.requireLogin(); Baoxue.header();
const q = new URLSearchParams(location.search);
document.getElementById("month").value = q.get("month") || "";
document.getElementById("f").addEventListener("submit", (e) => { e.preventDefault(); q.set("month", document.getElementById("month").value); location.search = q; });
const STATUS = { sealed: "已封存", submitted: "已上报", approved: "已审核", sent_back: "已退回" };
async function act(id, what) { try { await Baoxue.api(`/v1/reports/${encodeURIComponent(id)}/${what}`, { method: "POST" }); location.reload(); } catch (e) { Baoxue.failed(e); } }
(async () => {
  let d;
  try { d = await Baoxue.api("/v1/reports" + (q.get("month") ? `?month=${encodeURIComponent(q.get("month"))}` : "")); } catch (e) { Baoxue.failed(e); return; }
  const el = Baoxue.el.bind(Baoxue);
  Baoxue.table("rows", ["月份", "单位", "状态", "内容哈希", "更正次数", "操作"], d.items.map(r => [
    r.month, r.name, STATUS[r.status] || r.status, el("span", { title: r.content_hash }, r.content_hash.slice(0, 12) + "…"), r.restatements,
    el("span", { class: "actions" },
      el("button", { type: "button", onclick: () => Baoxue.download(`/v1/reports/${encodeURIComponent(r.report_id)}/download?format=csv`, `月报-${r.month}.csv`) }, "下载"),
      el("button", { type: "button", onclick: () => act(r.report_id, "submit") }, "上报"),
      el("button", { type: "button", onclick: () => act(r.report_id, "approve") }, "审核通过"))]));
  document.body.dataset.rendered = "yes";
})();
