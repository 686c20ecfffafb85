// The field page: my cases and due actions, and home visits / persuasion attempts with photos, saved first to the
// outbox (IndexedDB) and sent when online. Every value reaches the page as DOM text (el), never as HTML.
// Trusted Types: no HTML string may be written at all; the one script URL allowed is this page's service worker.
if (window.trustedTypes && trustedTypes.createPolicy) {
  trustedTypes.createPolicy("default", { createHTML: () => null, createScript: () => null,
    createScriptURL: (s) => (s === "/ui/field-sw.js" ? s : null) });
}
const STAGES = { suspected: "疑似辍学", verifying: "核查中", not_dropout: "核查非辍学", persuading: "劝返中", escalated: "依法控辍",
  returned: "已复学（跟踪期）", closure_pending: "销号待审批", closed: "已销号", excluded: "不计入辍学" };
const ACTIONS = { start_verification: "开始核查", conclude_verification: "作出核查结论", persuade: "劝返", close: "申请销号",
  approve_closure: "待县级审批销号", follow_up: "复学跟踪", await_court: "等待法院处理", "take_step:return_notice": "送达复学通知书",
  "take_step:correction_order": "责令限期改正", "take_step:legal_documents": "出具司法文书", "take_step:court_referral": "提请法院",
  "await_deadline:return_notice": "等待复学通知书期限", "await_deadline:correction_order": "等待限期改正期限",
  "await_deadline:legal_documents": "等待司法文书期限" };
const STATES = { pending: "待发送", sending: "发送中", sent: "已发送", failed: "发送失败" };
const KINDS = { visit: "家访记录", persuasion: "劝返记录" };
const TOKEN = "baoxue_field_token";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  e.append(...children.flat().filter(c => c !== null && c !== undefined && c !== false).map(c => c instanceof Node ? c : String(c)));
  return e;
}
const $ = (id) => document.getElementById(id);
const fill = (id, ...children) => { const e = $(id); e.replaceChildren(...children.flat().map(c => c instanceof Node ? c : String(c))); return e; };
const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "");
const shortId = (id) => String(id).slice(0, 8);
const show = (...ids) => { for (const s of ["login", "cases", "record", "outbox-box"]) $(s).hidden = !ids.includes(s); };

function token() { return localStorage.getItem(TOKEN) || ""; }
function claims() { try { return JSON.parse(atob(token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch (e) { return null; } }

class HttpError extends Error { constructor(status, message) { super(message); this.status = status; } }
async function api(path, options = {}) {
  const r = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: "Bearer " + token() } });
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const d = body && body.detail;
    const msg = (d && d.message) || (Array.isArray(d) && d[0] && `${d[0].loc.join(".")}：${d[0].msg}`) || ("请求失败 " + r.status);
    throw new HttpError(r.status, msg);
  }
  return body;
}

function network() {
  const online = navigator.onLine;
  const n = fill("net", online ? "在线" : "离线");
  n.classList.toggle("offline", !online);
}

// --- my cases and due actions ---
async function loadQueue() {
  let items, note = "";
  try {
    if (!navigator.onLine) throw new Error("离线");
    items = await api("/v1/queue?limit=200");
    await Outbox.remember("queue", { at: new Date().toISOString(), items });
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) { signOut("登录已失效，请重新登录"); return; }
    const last = await Outbox.recall("queue");
    items = last ? last.items : [];
    note = last ? `离线：显示 ${when(last.at)} 同步的待办` : "离线：暂无已同步的待办";
  }
  fill("queue-note", note || `共 ${items.length} 件`);
  const now = Date.now();
  fill("queue", items.length ? items.map(i => el("li", { "data-case": i.case_id },
    el("div", {}, el("strong", {}, `案件 ${shortId(i.case_id)}`), " · ", STAGES[i.stage] || i.stage),
    el("div", {}, "待办：", ACTIONS[i.next_action] || i.next_action || "无"),
    i.next_due_at ? el("div", { class: Date.parse(i.next_due_at) < now ? "overdue" : "due" },
      (Date.parse(i.next_due_at) < now ? "已逾期：" : "期限：") + when(i.next_due_at)) : null,
    el("div", { class: "muted" }, `乡镇 ${i.township_code} · 立案 ${when(i.opened_at)}`),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "do-visit", onclick: () => openForm("visit", i.case_id) }, "记录家访"),
      el("button", { type: "button", class: "do-persuasion", onclick: () => openForm("persuasion", i.case_id) }, "记录劝返"))))
    : [el("li", {}, "暂无待办案件")]);
}

// --- recording ---
let current = null;
function localNow() { const d = new Date(); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); }
function openForm(kind, caseId) {
  current = { kind, caseId };
  fill("record-title", kind === "visit" ? "记录家访" : "记录劝返");
  fill("record-case", `案件 ${shortId(caseId)}`);
  $("visit-form").hidden = kind !== "visit";
  $("persuasion-form").hidden = kind !== "persuasion";
  if (kind === "visit") { $("visited_at").value = localNow(); if (!$("visitors").value) $("visitors").value = (claims() || {}).name || (claims() || {}).sub || ""; }
  show("record", "outbox-box");
  window.scrollTo(0, 0);
}
const list = (s) => s.split(/[、,，;；\n]/).map(x => x.trim()).filter(Boolean);

async function save(kind, body, files) {
  const photos = Array.from(files || []).map(f => ({ blob: f, type: f.type }));
  await Outbox.add({ key: crypto.randomUUID(), case_id: current.caseId, kind, body, photos });
  $(kind === "visit" ? "visit-form" : "persuasion-form").reset();
  show("cases", "outbox-box");
  await renderOutbox();
  flush();
}

$("visit-form").addEventListener("submit", (e) => {
  e.preventDefault();
  save("visit", { visited_at: new Date($("visited_at").value).toISOString(), visitors: list($("visitors").value),
    met: list($("met").value), findings: $("findings").value.trim() }, $("visit-photos").files).catch(failed);
});
$("persuasion-form").addEventListener("submit", (e) => {
  e.preventDefault();
  save("persuasion", { method: $("method").value, outcome: $("outcome").value, note: $("note").value.trim() },
    $("persuasion-photos").files).catch(failed);
});

// --- sending, in order, each with its own key ---
let flushing = false;
async function upload(item) {
  const refs = [];
  for (const p of item.photos || []) {
    const ref = await api(`/v1/cases/${item.case_id}/photos`, { method: "POST", body: p.blob,
      headers: { "content-type": p.type || "application/octet-stream" } });
    refs.push({ kind: "photo", sha256: ref.sha256, size_bytes: ref.size_bytes, media_type: ref.media_type,
      location: ref.location, description: "现场照片" });
  }
  return refs;
}
async function send(item) {
  const evidence = await upload(item);
  const json = (path, body, key) => api(path, { method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json", "Idempotency-Key": key } });
  if (item.kind === "visit") {
    await json(`/v1/cases/${item.case_id}/visits`, { ...item.body, evidence }, item.key);
  } else {
    await json(`/v1/cases/${item.case_id}/persuasions`, item.body, item.key);
    if (evidence.length) await json(`/v1/cases/${item.case_id}/evidence`, { evidence, note: "劝返现场照片" }, item.key + ":photos");
  }
}
async function flush() {
  if (flushing || !navigator.onLine || !claims()) return;
  flushing = true;
  try {
    for (const item of await Outbox.pending()) {
      item.state = "sending"; await Outbox.put(item); await renderOutbox();
      try {
        await send(item);
        item.state = "sent"; item.sent_at = new Date().toISOString(); item.error = null; item.photos = [];
      } catch (e) {
        const retry = !(e instanceof HttpError) || e.status >= 500 || e.status === 401 || e.status === 429 || e.status === 408;
        item.state = retry ? "pending" : "failed"; item.error = e.message;
        await Outbox.put(item); await renderOutbox();
        if (retry) break;
        continue;
      }
      await Outbox.put(item); await renderOutbox();
    }
  } finally { flushing = false; }
  if (navigator.onLine) loadQueue().catch(failed);
}

async function renderOutbox() {
  const items = (await Outbox.all()).reverse().slice(0, 30);
  fill("outbox", items.length ? items.map(i => el("li", { "data-key": i.key, "data-state": i.state },
    el("span", { class: `state ${i.state}` }, STATES[i.state] || i.state), " ", KINDS[i.kind] || i.kind,
    ` · 案件 ${shortId(i.case_id)}`, (i.photos || []).length ? ` · 照片 ${i.photos.length} 张` : "",
    el("div", { class: "muted" }, "保存于 ", when(i.created_at), i.sent_at ? `，发送于 ${when(i.sent_at)}` : ""),
    i.error && i.state !== "sent" ? el("div", { class: "error" }, i.error) : null)) : [el("li", { class: "muted" }, "暂无提交")]);
}

function failed(e) { fill("err", e.message || String(e)); }
function signOut(message) { localStorage.removeItem(TOKEN); show("login"); $("logout").hidden = true; fill("err", message || ""); }

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN, $("token").value.trim());
  if (!claims()) { signOut("令牌格式无效"); return; }
  start();
});
$("logout").addEventListener("click", () => signOut());
$("back").addEventListener("click", () => show("cases", "outbox-box"));
$("send-now").addEventListener("click", () => flush());
addEventListener("online", () => { network(); flush(); });
addEventListener("offline", network);
setInterval(() => { network(); flush(); }, 5000);  // a missed online event is caught here

async function start() {
  const c = claims();
  if (!c) { show("login"); return; }
  $("logout").hidden = false;
  fill("who", `${c.name ? c.name + " " : ""}${c.sub}（${c.role}，辖区 ${c.jur}）`);
  show("cases", "outbox-box");
  await Promise.all([loadQueue(), renderOutbox()]);
  flush();
}

network();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/ui/field-sw.js", { scope: "/ui/" }).catch(() => {});
}
start().catch(failed).finally(() => document.body.setAttribute("data-rendered", "yes"));
