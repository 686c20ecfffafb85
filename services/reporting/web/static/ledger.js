// The three ledgers (台账): filter, sort by a column, page, export; a case row opens its timeline.
Baoxue.requireLogin(); Baoxue.header();
const form = document.getElementById("f"), q = new URLSearchParams(location.search), el = Baoxue.el.bind(Baoxue);
for (const [k, v] of Object.entries(Baoxue.causes)) form.cause.append(el("option", { value: k }, v));
for (const [k, v] of q) if (form[k]) form[k].value = v;
const kind = form.kind.value, page = Math.max(1, Math.floor(+(q.get("page") || 1)) || 1), sort = q.get("sort") || "";
function params(extra) { const p = new URLSearchParams(); for (const e of form.elements) if (e.name && e.value && e.name !== "kind") p.set(e.name, e.value); if (sort) p.set("sort", sort); for (const [k, v] of Object.entries(extra || {})) p.set(k, v); return p; }
form.addEventListener("submit", (e) => { e.preventDefault(); const p = params(); p.set("kind", form.kind.value); location.search = p; });
document.getElementById("csv").addEventListener("click", () => Baoxue.download(`/v1/ledgers/${kind}/export?` + params({ format: "csv" }), `${kind}.csv`));
document.getElementById("xlsx").addEventListener("click", () => Baoxue.download(`/v1/ledgers/${kind}/export?` + params({ format: "xlsx" }), `${kind}.xlsx`));
const COLS = {
  cases: [["name_masked", "姓名"], ["id_number_masked", "身份证号"], ["school_name", "学校"], ["township_code", "乡镇", (v, r) => Baoxue.place(r.township_name, v)], ["special_groups", "特殊群体", v => Baoxue.groupLabels(v)], ["status", "阶段", v => Baoxue.stages[v] || v, "status"], ["causes", "原因", v => (v || "").split(",").map(c => Baoxue.causes[c] || c).join("、")], ["owners_display", "劝返责任人"], ["opened_at", "立案", v => new Date(v).toLocaleDateString("zh-CN"), "opened_at"], ["latest_action", "最近措施"], ["deadline_status", "期限", v => ({ pending: "期限内", overdue: "已逾期", met: "已完成" })[v] || ""]],
  children: [["name_masked", "姓名"], ["id_number_masked", "身份证号"], ["school_name", "学校", null, "school_name"], ["township_code", "乡镇", (v, r) => Baoxue.place(r.township_name, v), "township_code"], ["grade", "年级", null, "grade"], ["class_name", "班级"], ["enrolment", "学籍状态"], ["residency", "居住"], ["special_groups", "特殊群体", v => Baoxue.groupLabels(v)]],
  suspected: [["kind", "途径"], ["name_masked", "姓名"], ["id_number_masked", "身份证号"], ["school_name", "学校"], ["township_code", "乡镇", (v, r) => Baoxue.place(r.township_name, v), "township_code"], ["special_groups", "特殊群体", v => Baoxue.groupLabels(v)], ["since", "起始", null, "since"], ["absent_days", "缺课天数"], ["status", "状态"], ["resolution", "处理结果"], ["case_id", "个案"]],
};
function heading([, label, , key]) {
  if (!key) return el("th", {}, label);
  const mark = sort === key ? " ▲" : sort === "-" + key ? " ▼" : "";
  return el("th", {}, el("button", { type: "button", class: "sort", "data-sort": key, onclick: () => { q.set("sort", sort === key ? "-" + key : key); location.search = q; } }, label + mark));
}
(async () => {
  let d;
  try { d = await Baoxue.api(`/v1/ledgers/${kind}?` + params({ page, page_size: 50 })); } catch (e) { Baoxue.failed(e); return; }
  Baoxue.fill("pos", `共 ${d.total} 条。` + Baoxue.positions(d.positions));
  const cols = COLS[kind];
  Baoxue.table("rows", cols.map(heading), d.items.map(r => cols.map(([k, , fmt]) => {
    const v = r[k], text = v === null || v === undefined ? "" : (fmt ? fmt(v, r) : v);
    return k === "name_masked" && r.case_id && kind === "cases" ? el("a", { href: "/ui/case?" + new URLSearchParams({ id: r.case_id }) }, text) : text;
  })));
  Baoxue.fill("page", `第 ${page} 页 / 共 ${Math.max(1, Math.ceil(d.total / 50))} 页`);
  document.getElementById("prev").addEventListener("click", () => { q.set("page", Math.max(1, page - 1)); location.search = q; });
  document.getElementById("next").addEventListener("click", () => { q.set("page", page + 1); location.search = q; });
  document.body.dataset.rendered = "yes";
})();
