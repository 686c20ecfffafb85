// Scorecards (考核评分): a unit's figures against targets with its rank, the ranking of a level below it, and
// the cases behind each figure (drill-down). Every value goes into the page through the DOM (Baoxue.el).
Baoxue.requireLogin(); Baoxue.header();
const q = new URLSearchParams(location.search);
const claims = Baoxue.claims() || {};
const lastMonth = (() => { const d = new Date(); d.setDate(0); return d.toISOString().slice(0, 7); })();
const code = q.get("code") || claims.jur || "52", period = q.get("period") || lastMonth;
const school = q.get("school") || "";
for (const [id, v] of [["code", code], ["period", period], ["level", q.get("level") || ""], ["as_of", q.get("as_of") || ""]]) {
  document.getElementById(id).value = v;
}
const el = Baoxue.el.bind(Baoxue);
const RATES = new Set(["dropout_rate", "return_rate", "report_on_time", "comparisons_acted_on"]);
const value = (name, f) => f.value === null || f.value === undefined ? "—" : RATES.has(name) ? Baoxue.pct(f.value) : String(f.value);
const target = (name, f) => f.target === null || f.target === undefined ? "" : RATES.has(name) ? Baoxue.pct(f.target) : String(f.target);
const seqs = (p) => Object.entries(p || {}).map(([t, s]) => `${t.split(".")[1]}#${s}`).join("，") || "—";
function link(params) {
  const p = new URLSearchParams({ period, ...params });
  if (q.get("as_of")) p.set("as_of", q.get("as_of"));
  return "/ui/scorecards?" + p.toString();
}
function query(params) {
  const p = new URLSearchParams({ period, ...params });
  if (q.get("as_of")) p.set("as_of", q.get("as_of"));
  return p.toString();
}
async function drill(name, label) {
  try {
    const params = { figure: name };
    if (school) params.school_id = school;
    const d = await Baoxue.api(`/v1/scorecards/${encodeURIComponent(code)}/cases?` + query(params));
    Baoxue.fill("drill-title", `${label}：${d.items.length} 条`);
    Baoxue.fill("drill-pos", "事件位置：" + seqs(d.figure_positions));
    if (d.kind === "findings") {
      Baoxue.table("drill", ["比对编号", "类型", "乡镇（街道）", "发现日期", "事件序号"], d.items.map(r =>
        [r.finding_id, r.kind_label, r.township_code, r.found_on || "", String(r.last_sequence)]));
    } else {
      Baoxue.table("drill", ["个案", "乡镇（街道）", "阶段", "立案时间", "劝返责任人", "事件序号"], d.items.map(r =>
        [el("a", { href: "/ui/case?id=" + encodeURIComponent(r.case_id) }, r.case_id), r.township_code, r.status_label,
         new Date(r.opened_at).toLocaleDateString("zh-CN"), r.owners_display || "未落实", String(r.last_sequence)]));
    }
    document.body.dataset.drilled = name;
  } catch (e) { Baoxue.failed(e); }
}
(async () => {
  let d;
  const path = school ? `/v1/scorecards/${encodeURIComponent(code)}/schools/${encodeURIComponent(school)}`
    : `/v1/scorecards/${encodeURIComponent(code)}`;
  const params = {};
  if (q.get("level")) params.level = q.get("level");
  try { d = await Baoxue.api(path + "?" + query(params)); } catch (e) { Baoxue.failed(e); document.body.dataset.rendered = "yes"; return; }
  Baoxue.fill("title", `考核评分 · ${d.name}`);
  Baoxue.fill("unit", `${d.level_label} ${d.name}（${period}，截至 ${d.as_of}）`);
  Baoxue.fill("score", `综合得分 ${d.score}`, d.rank ? `，同级排名 第 ${d.rank} / ${d.ranked} 名` : "", `（权重版本 ${d.config_version}）`);
  Baoxue.fill("pos", Baoxue.positions(d.positions));
  const names = Object.keys(d.figures);
  Baoxue.table("figures", ["指标", "数值", "目标", "得分", "权重", "事件位置", "明细"], names.map(n => {
    const f = d.figures[n];
    return [d.labels[n] || n, value(n, f), target(n, f), String(f.score), String(d.weights[n]), seqs(f.positions),
      n === "report_on_time" ? `按时 ${f.numerator}，逾期 ${f.late}，待报 ${f.waiting}`
        : el("button", { type: "button", class: "drill", "data-figure": n, onclick: () => drill(n, d.labels[n] || n) }, "查看个案")];
  }));
  Baoxue.table("ranking", ["名次", "单位", "得分", ...names.map(n => d.labels[n] || n)], (d.ranking || []).map(u => [
    String(u.rank),
    el("a", { href: u.school_id ? link({ code: u.code, school: u.school_id }) : link({ code: u.code }) }, Baoxue.place(u.name, u.school_id ? "学校" : u.code)),
    String(u.score), ...names.map(n => value(n, u.figures[n]))]));
  document.body.dataset.rendered = "yes";
})();
