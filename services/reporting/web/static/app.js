// Shared helpers of the reporting pages: the token, API calls, labels, and DOM building.
// Pages never write HTML from strings: every value goes into the page as a text node or an attribute through
// the DOM (Baoxue.el), so a name such as <img onerror=...> is shown as text; the CSP forbids inline script.
// Under the CSP's Trusted Types the browser asks this policy before any HTML string reaches the page: only the
// empty string passes (the chart library clears its box with it); anything else is refused and reported.
if (window.trustedTypes && trustedTypes.createPolicy) {
  trustedTypes.createPolicy("default", { createHTML: (s) => (s === "" ? s : null), createScript: () => null, createScriptURL: () => null });
}
const Baoxue = {
  token() { return localStorage.getItem("baoxue_token") || ""; },
  claims() { try { return JSON.parse(atob(this.token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch (e) { return null; } },
  requireLogin() { if (!this.claims()) { location.href = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search); } },
  // Only a path of this site's pages may follow sign-in (never another origin or a javascript: URL).
  safeNext(next) { return typeof next === "string" && /^\/ui\/[A-Za-z0-9_\-?=&%.,:]*$/.test(next) && !next.startsWith("//") ? next : "/ui/dashboard"; },
  async api(path, options = {}) {
    const r = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: "Bearer " + this.token() } });
    if (r.status === 401) { location.href = "/ui/login"; throw new Error("未登录"); }
    const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
    if (!r.ok) { throw new Error((body.detail && body.detail.message) || body.message || ("请求失败 " + r.status)); }
    return body;
  },
  async download(path, filename) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + this.token() } });
    if (!r.ok) { alert("下载失败"); return; }
    const a = document.createElement("a"); a.href = URL.createObjectURL(await r.blob()); a.download = filename; a.click();
  },
  // el("a", { href: "/ui/x", class: "c", onclick: fn }, "text", otherNode): children are text nodes or nodes.
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    e.append(...this.nodes(children));
    return e;
  },
  nodes(children) { return children.flat(Infinity).filter(c => c !== null && c !== undefined && c !== false).map(c => c instanceof Node ? c : String(c)); },
  fill(id, ...children) { const e = typeof id === "string" ? document.getElementById(id) : id; e.replaceChildren(...this.nodes(children)); return e; },
  // A table: one header row of texts, then rows of cells (texts or nodes).
  // Each cell carries its column's name (data-label), so on a phone a row can reflow into a labelled card.
  table(id, headers, rows) {
    const heads = headers.map(h => h instanceof Node ? h : this.el("th", {}, h));
    return this.fill(id, this.el("tr", {}, heads),
      rows.map(cells => this.el("tr", {}, cells.map((c, i) => this.el("td", { "data-label": heads[i] ? heads[i].textContent : "" }, c)))));
  },
  failed(e) { this.fill("err", e.message); },
  header() {
    const c = this.claims();
    const out = this.el("a", { href: "/ui/login", onclick: () => localStorage.removeItem("baoxue_token") }, "退出");
    const who = c ? `${c.name ? c.name + " " : ""}${c.sub}（${c.role}，辖区 ${c.jur}）` : "";
    document.body.prepend(this.el("header", {},
      this.el("strong", {}, "控辍保学 · 统计报表"),
      this.el("nav", {}, this.el("a", { href: "/ui/dashboard" }, "统计看板"), this.el("a", { href: "/ui/ledger" }, "台账"),
        this.el("a", { href: "/ui/reports" }, "月报"), this.el("a", { href: "/ui/scorecards" }, "考核评分"),
        this.el("a", { href: "/ui/inspections" }, "督导检查")),
      this.el("span", { class: "who" }, this.el("span", { id: "who" }, who), " ", out)));
  },
  positions(p) {
    if (!p) return "";
    const t = p.as_of_time ? new Date(p.as_of_time).toLocaleString("zh-CN") : "无数据";
    const seqs = (p.topics || []).map(x => `${x.topic.split(".")[1]}#${x.sequence}`).join("，");
    return `数据截至 ${t}（事件位置：${seqs || "无"}；分区 ${(p.partitions || []).length} 个）`;
  },
  stages: { suspected: "疑似辍学", not_dropout: "核查非辍学", confirmed: "确认辍学·劝返中", legal: "依法控辍", returned: "已复学·跟踪中", closed: "已销号", excluded: "不计入辍学" },
  causes: { learning_difficulty: "学困厌学", working_away: "外出打工", poverty: "家庭贫困", illness_or_disability: "疾病或残疾", family: "家庭原因", early_marriage: "早婚", distance_or_conditions: "路远或办学条件", other: "其他" },
  groups: { left_behind: "留守儿童", migrant: "随迁子女", disabled: "残疾儿童", orphan: "孤儿", de_facto_unsupported: "事实无人抚养", hardship: "困境儿童", registered_poor: "建档立卡", poverty_exit: "脱贫户", monitored: "监测户", marginal: "边缘户", returning: "返乡儿童", single_parent: "单亲家庭", learning_difficulty: "学困生" },
  groupLabels(codes) { return (codes || "").split(",").filter(Boolean).map(c => this.groups[c] || c).join("、"); },
  counted(obj) { return Object.entries(obj || {}).map(([k, v]) => `${this.groups[k] || k} ${v}`).join("，") || "0"; },
  place(name, code) { return name ? `${name}（${code}）` : (code || ""); },
  pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(2) + "%"; },
  // Charts are redrawn to their container's width when a phone turns or a window resizes.
  chart(id) { const c = echarts.init(document.getElementById(id)); addEventListener("resize", () => c.resize()); return c; },
};
