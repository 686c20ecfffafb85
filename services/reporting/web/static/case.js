// One case (一人一案) and its steps, replayed to the end of a chosen day.
Baoxue.requireLogin(); Baoxue.header();
const q = new URLSearchParams(location.search);
document.getElementById("asof").value = q.get("as_of") || "";
document.getElementById("f").addEventListener("submit", (e) => { e.preventDefault(); const v = document.getElementById("asof").value; if (v) q.set("as_of", v); else q.delete("as_of"); location.search = q; });
(async () => {
  let d;
  try { d = await Baoxue.api(`/v1/cases/${encodeURIComponent(q.get("id"))}/timeline` + (q.get("as_of") ? `?as_of=${encodeURIComponent(q.get("as_of"))}` : "")); } catch (e) { Baoxue.failed(e); return; }
  const c = d.case, el = Baoxue.el.bind(Baoxue);
  Baoxue.fill("pos", (q.get("as_of") ? `回放至 ${q.get("as_of")} 日终。` : "当前状态。") + Baoxue.positions(d.positions));
  Baoxue.fill("summary", [["姓名", c.name_masked], ["身份证号", c.id_number_masked], ["学校", c.school_name], ["阶段", Baoxue.stages[c.status] || c.status], ["劝返责任人", c.owners_display], ["最近措施", c.latest_action]]
    .map(([k, v]) => el("div", { class: "card" }, el("span", {}, k), el("b", { class: "small" }, v || "—"))));
  Baoxue.table("steps", ["时间", "事项", "记录时间", "角色", "事件位置"], d.steps.map(s => [
    new Date(s.at).toLocaleString("zh-CN"), s.summary, new Date(s.recorded_at).toLocaleString("zh-CN"), s.actor_role,
    `${s.topic.split(".")[1]}#${s.sequence}`]));
  document.body.dataset.rendered = "yes";
})();
