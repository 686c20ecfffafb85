// One case (一人一案) and its steps, replayed to the end of a chosen day.
Baoxue.requireLogin(); Baoxue.header();
const q = new URLSearchParams(location.search);
// Labels of the work-record codes (issue 12); values are always set as text, never as HTML.
const OUTCOMES = { agreed_to_return: "同意返校", undecided: "仍在考虑", refused: "拒绝返校", unreachable: "联系不上" };
const HELP = { subsidy: "资助补助", home_teaching: "送教上门", transport: "交通帮扶", boarding: "寄宿", psychological: "心理辅导", legal_aid: "法律援助", other_department: "部门协同", other: "其他帮扶" };
const LADDER = { return_notice: "书面复学通知书", correction_order: "责令限期改正", legal_documents: "司法文书", court_referral: "移送法院" };
document.getElementById("asof").value = q.get("as_of") || "";
document.getElementById("f").addEventListener("submit", (e) => { e.preventDefault(); const v = document.getElementById("asof").value; if (v) q.set("as_of", v); else q.delete("as_of"); location.search = q; });
(async () => {
  let d;
  try { d = await Baoxue.api(`/v1/cases/${encodeURIComponent(q.get("id"))}/timeline` + (q.get("as_of") ? `?as_of=${encodeURIComponent(q.get("as_of"))}` : "")); } catch (e) { Baoxue.failed(e); return; }
  const c = d.case, el = Baoxue.el.bind(Baoxue);
  Baoxue.fill("pos", (q.get("as_of") ? `回放至 ${q.get("as_of")} 日终。` : "当前状态。") + Baoxue.positions(d.positions));
  Baoxue.fill("summary", [["姓名", c.name_masked], ["身份证号", c.id_number_masked], ["学校", c.school_name], ["阶段", Baoxue.stages[c.status] || c.status], ["劝返责任人", c.owners_display], ["最近措施", c.latest_action],
    ["家访次数", String(c.visits || 0)], ["最近劝返结果", OUTCOMES[c.last_persuasion_outcome] || c.last_persuasion_outcome],
    ["帮扶类型", (c.help_kinds || "").split(",").filter(Boolean).map(k => HELP[k] || k).join("、")],
    ["依法控辍", c.legal_step ? [LADDER[c.legal_step] || c.legal_step, c.legal_document_no, c.deadline_at ? "限期至 " + new Date(c.deadline_at).toLocaleDateString("zh-CN") : ""].filter(Boolean).join(" · ") : ""]]
    .map(([k, v]) => el("div", { class: "card" }, el("span", {}, k), el("b", { class: "small" }, v || "—"))));
  Baoxue.table("steps", ["时间", "事项", "记录时间", "角色", "事件位置"], d.steps.map(s => [
    new Date(s.at).toLocaleString("zh-CN"), s.summary, new Date(s.recorded_at).toLocaleString("zh-CN"), s.actor_role,
    `${s.topic.split(".")[1]}#${s.sequence}`]));
  document.body.dataset.rendered = "yes";
})();
