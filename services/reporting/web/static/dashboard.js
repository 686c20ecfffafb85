// The dashboard of one level (province to school): cards, three charts, and the units below to drill into.
Baoxue.requireLogin(); Baoxue.header();
const q = new URLSearchParams(location.search);
const code = q.get("code") || (Baoxue.claims() || {}).jur, school = q.get("school");
const el = Baoxue.el.bind(Baoxue);
document.getElementById("asof").value = q.get("as_of") || "";
document.getElementById("f").addEventListener("submit", (e) => { e.preventDefault(); const v = document.getElementById("asof").value; q.set("as_of", v); if (!v) q.delete("as_of"); location.search = q; });
function link(c) { const p = new URLSearchParams(); if (c.level === "school") { p.set("code", c.code); p.set("school", c.school_id || ""); } else p.set("code", c.code); if (q.get("as_of")) p.set("as_of", q.get("as_of")); return "/ui/dashboard?" + p; }
function card(label, value, cls) { return el("div", { class: "card" }, el("span", {}, label), el("b", { class: cls || null }, value ?? "—")); }
(async () => {
  const path = school !== null ? `/v1/dashboard/${encodeURIComponent(code)}/schools/${encodeURIComponent(school)}` : `/v1/dashboard/${encodeURIComponent(code)}`;
  let d;
  try { d = await Baoxue.api(path + (q.get("as_of") ? `?as_of=${encodeURIComponent(q.get("as_of"))}` : "")); } catch (e) { Baoxue.failed(e); return; }
  const f = d.figures, m = f.meets_targets;
  Baoxue.fill("title", `${d.name}（${d.level_label}）统计看板`);
  const asOf = q.get("as_of") ? { as_of: q.get("as_of") } : {};
  const crumbs = (d.breadcrumbs || []).map(c => el("a", { href: "/ui/dashboard?" + new URLSearchParams({ code: c.code, ...asOf }) }, c.division_name || c.code));
  Baoxue.fill("crumbs", crumbs.flatMap((a, i) => i ? [" › ", a] : [a]));
  Baoxue.fill("pos", Baoxue.positions(d.positions));
  Baoxue.fill("cards",
    card("在校生（小学）", f.enrolled_primary), card("在校生（初中）", f.enrolled_junior),
    card("疑似辍学（待核查）", f.open_suspected_dropouts), card("确认辍学（劝返中）", f.confirmed_dropouts), card("已复学", f.returned),
    card(`小学辍学率（目标 < ${Baoxue.pct(f.targets.dropout_rate_primary)}）`, Baoxue.pct(f.dropout_rate_primary), m.dropout_rate_primary ? "good" : "bad"),
    card(`初中辍学率（目标 < ${Baoxue.pct(f.targets.dropout_rate_junior)}）`, Baoxue.pct(f.dropout_rate_junior), m.dropout_rate_junior ? "good" : "bad"),
    card(`劝返复学率（目标 ${Baoxue.pct(f.targets.return_rate)}）`, Baoxue.pct(f.return_rate), m.return_rate ? "good" : "bad"),
    card("复学天数中位数", f.median_days_to_return), card("逾期未办结", f.overdue_deadlines, f.overdue_deadlines ? "bad" : ""),
    card("失学（未入学）", f.out_of_school), card("转出未转入", f.transfer_lost), card("小升初未衔接", f.transition_missed),
    card("特殊群体在校生", Baoxue.counted(f.special_groups_enrolled), "small"),
    card("特殊群体未结个案", Baoxue.counted(f.special_groups_open_cases), "small"),
    card("特殊群体（失学等比对发现）", Baoxue.counted(f.special_groups), "small"));
  const kids = d.children || [];
  // Tooltips are drawn on the canvas (richText), so no name ever reaches the page as HTML.
  const tooltip = { renderMode: "richText" };
  const c1 = Baoxue.chart("chart-children");
  c1.setOption({ title: { text: "下级单位：疑似与确认辍学", textStyle: { fontSize: 15 } }, tooltip, legend: { top: 30 }, grid: { top: 70, left: 40, right: 16 },
    xAxis: { type: "category", data: kids.map(k => k.name), axisLabel: { hideOverlap: true } }, yAxis: { type: "value", minInterval: 1 },
    series: [{ name: "疑似辍学", type: "bar", data: kids.map(k => k.figures.open_suspected_dropouts) },
             { name: "确认辍学", type: "bar", data: kids.map(k => k.figures.confirmed_dropouts) },
             { name: "已复学", type: "bar", data: kids.map(k => k.figures.returned) }] });
  c1.on("click", (p) => { location.href = link(kids[p.dataIndex]); });
  const pie = (id, title, data, names) => Baoxue.chart(id).setOption({ title: { text: title, textStyle: { fontSize: 15 } }, tooltip,
    series: [{ type: "pie", radius: "55%", data: Object.entries(data).map(([k, v]) => ({ name: names[k] || k, value: v })) }] });
  pie("chart-stage", "个案阶段", f.cases_by_stage, Baoxue.stages); pie("chart-cause", "辍学原因", f.cases_by_cause, Baoxue.causes);
  Baoxue.table("children", ["单位", "在校生", "疑似辍学", "确认辍学", "已复学", "小学辍学率", "初中辍学率", "逾期"], kids.map(k => [
    el("a", { href: link(k) }, k.name), k.figures.enrolled, k.figures.open_suspected_dropouts, k.figures.confirmed_dropouts,
    k.figures.returned, Baoxue.pct(k.figures.dropout_rate_primary), Baoxue.pct(k.figures.dropout_rate_junior), k.figures.overdue_deadlines]));
  document.body.dataset.rendered = "yes";
})();
