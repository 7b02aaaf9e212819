/// The operator dashboard's script (docs/contract.md §6, "The dashboard"). Everything it shows
/// comes from the REST API with the token the operator signed in with (kept in the tab's
/// session storage). `<img>` and `EventSource` cannot send an Authorization header, so pictures
/// are fetched into blob URLs and the event stream is read with a streaming `fetch`. Every
/// string an App Server supplied (names, users, reasons …) goes into the page as text, never
/// as markup.
enum DashboardScript {
    static let js = #"""
"use strict";
const $ = (id) => document.getElementById(id);
const state = { auth: sessionStorage.getItem("lg.auth"), rows: [], sort: "name", desc: false, timers: [], stream: null, lastSeq: null, blobs: new Map() };

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function fmtKbps(v) { return v == null ? "–" : (v >= 1000 ? (v / 1000).toFixed(1) + " M" : Math.round(v) + " k"); }
function fmtSec(s) { if (s == null) return "–"; s = Math.floor(s); const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); return (h ? h + " h " : "") + m + " min " + (s % 60) + " s"; }

async function api(path, options = {}) {
  const r = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: "Basic " + state.auth, "X-Requested-With": "LiveGate-Dashboard" } });
  if (r.status === 401) { signOut("That token id and secret were not accepted. Check both and sign in again."); throw new Error("unauthorized"); }
  return r;
}
async function json(path) {
  const r = await api(path);
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.msg) || ("HTTP " + r.status));
  return body.data;
}

async function signIn(event) {
  event.preventDefault();
  $("signin-error").textContent = "";
  const id = $("token-id").value.trim(), secret = $("token-secret").value;
  state.auth = btoa(unescape(encodeURIComponent(id + ":" + secret)));
  const r = await fetch("/v1/system", { headers: { Authorization: "Basic " + state.auth, "X-Requested-With": "LiveGate-Dashboard" } }).catch(() => null);
  if (!r || r.status !== 200) {
    state.auth = null;
    $("signin-error").textContent = r && r.status === 401 ? "Wrong token: that token id and secret were not accepted." : "The gateway did not answer; try again.";
    return;
  }
  sessionStorage.setItem("lg.auth", state.auth);
  $("token-secret").value = "";
  start();
}

function signOut(message) {
  sessionStorage.removeItem("lg.auth");
  state.auth = null;
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  if (state.stream) state.stream.abort();
  $("nav").hidden = true; $("signout").hidden = true; $("who").textContent = "";
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
}

async function start() {
  $("signin").hidden = true; $("nav").hidden = false; $("signout").hidden = false;
  try { const sys = await json("/v1/system"); $("who").textContent = "node " + sys.nodeId + " · " + sys.version; } catch (e) { return; }
  route();
  refreshChannels();
  state.timers.push(setInterval(refreshChannels, 5000));
  state.timers.push(setInterval(() => { if (location.hash.startsWith("#channel/")) showChannel(decodeURIComponent(location.hash.slice(9)), true); }, 5000));
  followEvents();
}

function route() {
  const hash = location.hash || "#channels";
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
  for (const a of document.querySelectorAll("nav a")) a.removeAttribute("aria-current");
  if (hash.startsWith("#channel/")) { $("channel").hidden = false; showChannel(decodeURIComponent(hash.slice(9)), false); return; }
  const name = ["#channels", "#events", "#nodes", "#usage"].includes(hash) ? hash.slice(1) : "channels";
  $(name).hidden = false;
  $("nav-" + name).setAttribute("aria-current", "page");
  if (name === "nodes") showNodes();
  if (name === "usage") showUsage();
}

async function picture(img, channelId, width) {
  try {
    const r = await api("/v1/channels/" + encodeURIComponent(channelId) + "/thumbnail.jpg?width=" + width);
    if (!r.ok) return false;
    const url = URL.createObjectURL(await r.blob());
    const old = state.blobs.get(img); if (old) URL.revokeObjectURL(old);
    state.blobs.set(img, url);
    img.src = url;
    return true;
  } catch (e) { return false; }
}

async function refreshChannels() {
  if (!state.auth) return;
  try {
    const [live, reconnecting, sys] = await Promise.all([json("/v1/channels?status=live&limit=100"), json("/v1/channels?status=reconnecting&limit=100"), json("/v1/system")]);
    const nodeOf = new Map();
    for (const n of sys.nodes || []) {
      const carried = await json("/v1/channels?status=live&limit=100&node=" + encodeURIComponent(n.id));
      for (const c of carried.items) nodeOf.set(c.id, n.id);
    }
    const channels = live.items.concat(reconnecting.items);
    state.rows = await Promise.all(channels.map(async (c) => {
      const s = await json("/v1/channels/" + encodeURIComponent(c.id) + "/stats").catch(() => ({}));
      const h = s.health || {};
      const v = s.video || {};
      return { id: c.id, name: c.name, userId: c.userId, node: nodeOf.get(c.id) || "", status: s.status || c.status, uptime: s.uptimeSec,
               health: h.state || "", reasons: h.reasons || [], kbps: s.bitrateKbps10s, fps: s.fps, size: v.width ? v.width + "×" + v.height : "",
               codec: [v.codec, s.audio && s.audio.codec].filter(Boolean).join(" + "), tracks: (s.tracks || []).length,
               outputs: (s.outputs || []).map((o) => o.kind + (o.id ? " " + o.id : "") + ": " + o.state).join(", ") };
    }));
    $("live-count").textContent = "(" + state.rows.length + ")";
    renderChannels();
  } catch (e) { /* shown as stale: the next refresh tries again */ }
}

function renderChannels() {
  const q = $("filter").value.trim().toLowerCase();
  const rows = state.rows.filter((r) => !q || [r.name, r.userId, r.id, r.node, r.codec, r.health].some((f) => String(f).toLowerCase().includes(q)));
  rows.sort((a, b) => { const x = a[state.sort], y = b[state.sort]; const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y)); return state.desc ? -c : c; });
  const body = $("channel-rows");
  const keep = new Map([...body.querySelectorAll("tr")].map((tr) => [tr.dataset.id, tr]));
  body.replaceChildren();
  for (const r of rows) {
    const tr = el("tr"); tr.dataset.id = r.id;
    const pic = el("td"); const img = (keep.get(r.id) && keep.get(r.id).querySelector("img")) || el("img"); img.alt = "Picture of " + r.name; pic.append(img); tr.append(pic);
    const name = el("td"); const a = el("a", r.name); a.href = "#channel/" + encodeURIComponent(r.id); name.append(a); tr.append(name);
    tr.append(el("td", r.userId), el("td", r.node), el("td", r.status), el("td", fmtSec(r.uptime)));
    const health = el("td"); health.append(el("span", r.health || "–", "state-" + r.health)); if (r.reasons.length) health.append(el("span", r.reasons.join("; "), "reasons")); tr.append(health);
    tr.append(el("td", fmtKbps(r.kbps)), el("td", r.fps == null ? "–" : r.fps.toFixed(1)), el("td", r.size), el("td", r.codec), el("td", r.tracks), el("td", r.outputs));
    body.append(tr);
    picture(img, r.id, 160);
  }
}

async function showChannel(id, refreshOnly) {
  try {
    const c = await json("/v1/channels/" + encodeURIComponent(id));
    $("channel-title").textContent = c.name;
    const s = await json("/v1/channels/" + encodeURIComponent(id) + "/stats").catch(() => ({}));
    const facts = $("channel-facts"); facts.replaceChildren();
    const h = s.health || {};
    for (const [k, v] of [["Id", c.id], ["User", c.userId], ["Status", s.status || c.status], ["Uptime", fmtSec(s.uptimeSec)], ["Health", (h.state || "–") + (h.reasons && h.reasons.length ? " — " + h.reasons.join("; ") : "")],
                          ["Bit rate", fmtKbps(s.bitrateKbps10s) + "bit/s"], ["Frames/s", s.fps == null ? "–" : s.fps.toFixed(1)], ["Video", s.video ? s.video.codec + " " + (s.video.width || "?") + "×" + (s.video.height || "?") : "–"],
                          ["Audio", s.audio ? s.audio.codec : "–"], ["Tags", (c.tags || []).join(", ")]]) { facts.append(el("dt", k), el("dd", v)); }
    $("hls-url").value = (c.playback && c.playback.hlsUrl) || "";
    const shown = await picture($("channel-picture"), id, 480);
    $("channel-picture-note").textContent = shown ? "Refreshed every 5 s" : "No picture yet (offline, or waiting for a keyframe)";
    const history = await json("/v1/channels/" + encodeURIComponent(id) + "/stats/history?window=1h");
    drawLine($("chart-bitrate"), history.points.map((p) => p.bitrateKbps));
    drawLine($("chart-fps"), history.points.map((p) => p.fps));
    drawHealth($("chart-health"), history.points.map((p) => p.health));
    if (refreshOnly) return;
    const sessions = await json("/v1/channels/" + encodeURIComponent(id) + "/sessions?limit=10");
    const ul = $("channel-sessions"); ul.replaceChildren();
    for (const x of sessions.items) ul.append(el("li", x.startedAt + " → " + (x.endedAt || "now") + " · " + (x.reason || "live") + " · " + Math.round(x.bytesIn / 1e6) + " MB"));
    const events = await json("/v1/events?channelId=" + encodeURIComponent(id) + "&limit=100");
    const ev = $("channel-events"); ev.replaceChildren();
    for (const e of events.items.slice(-20).reverse()) ev.append(eventItem(e));
  } catch (e) { $("channel-title").textContent = "Channel not found"; }
}

function drawLine(svg, values) {
  svg.replaceChildren();
  const w = 420, h = 120; svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  if (values.length === 0) { const t = document.createElementNS("http://www.w3.org/2000/svg", "text"); t.setAttribute("x", 8); t.setAttribute("y", 20); t.textContent = "no points yet"; svg.append(t); return; }
  svg.dataset.points = String(values.length);
  if (values.length === 1) values = [values[0], values[0]]; // one point: a level line
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", values.map((v, i) => (i * step).toFixed(1) + "," + (h - 4 - (v / max) * (h - 12)).toFixed(1)).join(" "));
  svg.append(line);
}

function drawHealth(svg, states) {
  svg.replaceChildren();
  const w = 420, h = 24; svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  const colors = { healthy: "var(--ok)", degraded: "var(--warn)", starving: "var(--bad)" };
  states.forEach((s, i) => { const r = document.createElementNS("http://www.w3.org/2000/svg", "rect"); r.setAttribute("x", (i * w / Math.max(1, states.length)).toFixed(1)); r.setAttribute("y", 0); r.setAttribute("width", Math.max(1, w / Math.max(1, states.length)).toFixed(1)); r.setAttribute("height", h); r.setAttribute("fill", colors[s] || "var(--line)"); const t = document.createElementNS("http://www.w3.org/2000/svg", "title"); t.textContent = s; r.append(t); svg.append(r); });
}

function eventItem(e) {
  const li = el("li");
  li.append(el("time", (e.createdAt || "").replace("T", " ").slice(0, 19)), el("span", e.type, "type"));
  const d = e.data || {};
  const what = [d.channel && d.channel.name, d.health, d.reason, d.reasons && d.reasons.join("; "), d.node && d.node.id].filter(Boolean).join(" · ");
  li.append(el("span", what));
  li.dataset.type = e.type;
  return li;
}

async function followEvents() {
  const feed = $("event-feed");
  while (state.auth) {
    const controller = new AbortController(); state.stream = controller;
    $("stream-state").textContent = "(live)";
    try {
      const headers = { Authorization: "Basic " + state.auth, "X-Requested-With": "LiveGate-Dashboard" };
      if (state.lastSeq != null) headers["Last-Event-ID"] = String(state.lastSeq);
      const r = await fetch("/v1/events/stream", { headers, signal: controller.signal });
      if (r.status === 401) { signOut("That token is no longer accepted."); return; }
      const reader = r.body.getReader(); const decoder = new TextDecoder(); let buffer = "";
      for (;;) {
        const { value, done } = await reader.read(); if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          let id = null, data = null;
          for (const line of block.split("\n")) { if (line.startsWith("id: ")) id = line.slice(4); else if (line.startsWith("data: ")) data = line.slice(6); }
          if (id == null || data == null) continue;
          state.lastSeq = Number(id);
          try {
            const event = JSON.parse(data), li = eventItem(event);
            li.dataset.shownAt = String(Date.now()); li.dataset.createdMs = String(Date.parse(event.createdAt));
            feed.prepend(li);
          } catch (e) { continue; }
          while (feed.children.length > 200) feed.lastChild.remove();
        }
      }
    } catch (e) { if (!state.auth) return; }
    $("stream-state").textContent = "(reconnecting)";
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

async function showNodes() {
  const body = $("node-rows"); body.replaceChildren();
  try {
    const sys = await json("/v1/system");
    for (const n of sys.nodes || []) {
      const carried = await json("/v1/channels?status=live&limit=100&node=" + encodeURIComponent(n.id)).catch(() => ({ items: [] }));
      const tr = el("tr");
      tr.append(el("td", n.id + (n.self ? " (this one)" : "")), el("td", n.healthy ? "healthy" : "no heartbeat", n.healthy ? "state-healthy" : "state-starving"),
                el("td", n.version), el("td", n.startedAt), el("td", carried.items.length));
      const cell = el("td");
      if (n.self) {
        const b = el("button", "Drain"); b.type = "button";
        b.addEventListener("click", async () => {
          if (!confirm("Drain " + n.id + "? It takes no new publishes and stops once its publishers have left.")) return;
          const r = await api("/v1/system/drain", { method: "POST" });
          $("node-note").textContent = r.ok ? "Draining " + n.id + "." : "Drain refused (HTTP " + r.status + "): it needs an admin token.";
        });
        cell.append(b);
      }
      tr.append(cell);
      body.append(tr);
    }
  } catch (e) { $("node-note").textContent = "Nodes could not be read: " + e.message; }
}

async function showUsage() {
  const svg = $("chart-usage"); svg.replaceChildren();
  try {
    const u = await json("/v1/insights/usage?bucket=day");
    const w = 900, h = 160; svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    const max = Math.max(1, ...u.buckets.map((b) => b.minutesStreamed));
    u.buckets.forEach((b, i) => {
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect"); const bw = w / u.buckets.length;
      const bh = (b.minutesStreamed / max) * (h - 10);
      r.setAttribute("x", (i * bw + 1).toFixed(1)); r.setAttribute("y", (h - bh).toFixed(1)); r.setAttribute("width", Math.max(1, bw - 2).toFixed(1)); r.setAttribute("height", bh.toFixed(1)); r.setAttribute("class", "bar");
      const t = document.createElementNS("http://www.w3.org/2000/svg", "title"); t.textContent = b.start.slice(0, 10) + ": " + b.minutesStreamed + " min"; r.append(t); svg.append(r);
    });
    const totals = $("usage-totals"); totals.replaceChildren();
    for (const [k, v] of [["Minutes streamed", u.totals.minutesStreamed], ["Sessions", u.totals.sessions], ["Bytes ingested", u.totals.bytesIngested],
                          ["Peak live channels", u.totals.peakConcurrentLive], ["Minutes degraded", u.totals.minutesDegraded], ["Minutes starving", u.totals.minutesStarving],
                          ["Refused publishes", Object.entries(u.totals.rejections).map(([r, n]) => r + " " + n).join(", ") || "none"]]) { totals.append(el("dt", k), el("dd", v)); }
  } catch (e) { svg.append(el("desc", "Usage could not be read: " + e.message)); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut(""));
  $("filter").addEventListener("input", renderChannels);
  $("copy-hls").addEventListener("click", () => { navigator.clipboard && navigator.clipboard.writeText($("hls-url").value); });
  for (const b of document.querySelectorAll("th button[data-sort]")) b.addEventListener("click", () => { const k = b.dataset.sort; state.desc = state.sort === k ? !state.desc : false; state.sort = k; renderChannels(); });
  window.addEventListener("hashchange", () => { if (state.auth) route(); });
  if (state.auth) start();
});
"""#
}
