// sluice dashboard: a small page over /ui/api (reads) and the control API
// (stop, roll back). Changes arrive as Server-Sent Events; nothing polls.
"use strict";

const token = document.querySelector('meta[name="sluice-token"]').content;
const main = document.getElementById("main");
let scale = 1;

// show replaces main's content, skipping the parts a view leaves out.
const show = (...parts) => main.replaceChildren(...parts.flat().filter((p) => p !== null && p !== undefined && p !== false));

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function get(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).message || r.statusText);
  return r.json();
}

const fmtTime = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const fmtDate = (t) => new Date(t).toLocaleString([], { dateStyle: "short", timeStyle: "medium" });
function fmtDur(sec) {
  if (!sec) return "";
  if (sec < 60) return sec.toFixed(sec < 10 ? 1 : 0) + " s";
  const m = Math.floor(sec / 60), s = Math.round(sec % 60);
  return m + " min " + s + " s";
}
const statusMark = (s) => ({ Succeeded: "✔ ", Failed: "✘ ", Stopped: "✘ " }[s] || "… ");

function split(parts) {
  const bar = h("div", { class: "split", role: "img", "aria-label": parts.map((p) => `version ${p.version} ${p.percent.toFixed(0)}%`).join(", ") });
  parts.forEach((p, i) => {
    if (p.percent <= 0) return;
    const span = h("span", { class: i === 0 ? "old" : "new" }, `v${p.version} ${p.percent.toFixed(0)}%`);
    span.style.width = p.percent + "%"; // CSSOM, which the page's CSP allows (a style attribute it does not)
    bar.append(span);
  });
  const label = h("div", { class: "muted split-label" }, parts.filter((p) => p.percent > 0).map((p) => `v${p.version} ${p.percent.toFixed(0)}%`).join(" · "));
  return h("div", {}, bar, label);
}

function alarmLine(a) {
  const val = a.value === undefined || a.value === null ? "no data" : (+a.value.toFixed(3)).toString();
  const op = { GreaterThanOrEqualToThreshold: "≥", GreaterThanThreshold: ">", LessThanThreshold: "<", LessThanOrEqualToThreshold: "≤" }[a.operator] || a.operator;
  return h("span", { class: "alarm" },
    h("span", { class: "state " + a.state }, a.state), " ", a.name, a.canary ? " (new version only)" : "",
    h("span", { class: "muted" }, ` — ${a.statistic}(${a.metric}) ${val}, alarms at ${op} ${a.threshold}`));
}

function deploymentCell(s) {
  if (!s) return "—";
  const step = s.steps ? ` step ${s.step}/${s.steps}` : "";
  return h("span", {},
    h("a", { href: `#/d/${s.id}` }, s.id), " ",
    h("span", { class: "status " + s.status }, statusMark(s.status) + s.status),
    ` v${s.fromVersion} → v${s.toVersion}${step}`,
    s.lifecycleEvent ? ` · ${s.lifecycleEvent}` : "", s.hook ? ` (hook ${s.hook})` : "");
}

async function overview() {
  const ov = await get("/ui/api/overview");
  scale = ov.scale;
  const rows = ov.functions.map((f) =>
    h("tr", { "data-function": f.name },
      h("td", { "data-label": "Function" }, h("strong", {}, f.name), f.alias ? h("div", { class: "muted" }, "alias " + f.alias) : h("div", { class: "muted" }, "switches at once"),
        f.latestVersion && f.split.length && f.split[f.split.length - 1].version !== f.latestVersion && f.gradual ? h("div", { class: "muted" }, `latest v${f.latestVersion} not deployed`) : null),
      h("td", { "data-label": "Split", class: "split-cell" }, split(f.split)),
      h("td", { "data-label": "Deployment" }, f.active ? deploymentCell(f.active) : h("span", { class: "muted" }, "none running"),
        f.active ? controls(f.active, f.name) : null),
      h("td", { "data-label": "Alarms" }, f.alarms.length ? f.alarms.map(alarmLine) : h("span", { class: "muted" }, "none")),
      h("td", { "data-label": "Last result" }, f.last ? [deploymentCell(f.last), h("div", { class: "muted why-short" }, f.last.why)] : "—")));
  show(
    h("h2", {}, "Functions"),
    h("table", { class: "rows" }, h("thead", {}, h("tr", {}, ["Function", "Split", "Deployment", "Alarms", "Last result"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)));
}

function controls(s, fn) {
  if (["Succeeded", "Failed", "Stopped"].includes(s.status)) {
    return h("div", { class: "buttons" }, h("button", { onclick: () => act(`Roll ${fn} back to its previous version now?`, `/sluice/v1/functions/${encodeURIComponent(fn)}/rollback`, {}) }, "Roll back"));
  }
  return h("div", { class: "buttons" },
    h("button", { class: "danger", onclick: () => act(`Stop ${s.id} and move all traffic back to version ${s.fromVersion}?`, `/sluice/v1/deployments/${s.id}/stop`, { rollback: true }) }, "Stop and roll back"),
    h("button", { onclick: () => act(`Stop ${s.id} and leave traffic where it is (split between two versions)?`, `/sluice/v1/deployments/${s.id}/stop`, { rollback: false }) }, "Stop, keep traffic"));
}

// act asks for a confirmation, then calls the control API as the CLI does.
function act(question, path, body) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = question;
  dlg.returnValue = "";
  dlg.showModal();
  document.getElementById("confirm-cancel").focus();
  dlg.addEventListener("close", async () => {
    if (dlg.returnValue !== "ok") return;
    const r = await fetch(path, { method: "POST", headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const out = await r.json().catch(() => ({}));
    const note = h("p", { class: "notice", role: "alert" }, r.ok ? `Done: ${out.deploymentId || out.id || ""} ${out.status || ""}` : `Refused: ${out.message || r.statusText}`);
    main.prepend(note);
    render();
  }, { once: true });
}

function chart(c, names) {
  const W = 360, H = 150, L = 34, B = 18, T = 6;
  const pts = c.series.flatMap((s) => s.points);
  const xs = pts.map((p) => p[0]);
  const maxX = Math.max(1, ...xs, ...(c.breaches || []));
  let maxY = Math.max(1e-9, ...pts.map((p) => p[1]), c.threshold || 0);
  maxY *= 1.1;
  const X = (x) => L + (x / maxX) * (W - L - 4), Y = (y) => T + (1 - y / maxY) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const s = (tag, attrs, text) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; return e; };
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${c.title}: ${c.series.map((l) => l.label + " " + (l.points.length ? l.points[l.points.length - 1][1].toFixed(1) : "no data")).join(", ")}` });
  svg.append(s("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }), s("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  svg.append(s("text", { x: 2, y: T + 8 }, (+maxY.toPrecision(2)).toString()), s("text", { x: 2, y: H - B }, "0"));
  svg.append(s("text", { x: W - 60, y: H - 4 }, fmtDur(maxX) + " (wall)"));
  c.series.forEach((l, i) => {
    if (!l.points.length) return;
    svg.append(s("polyline", { class: "l" + Math.min(i, 1), points: l.points.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ") }));
  });
  if (c.threshold !== undefined && c.threshold !== null) {
    svg.append(s("line", { class: "threshold", x1: L, x2: W, y1: Y(c.threshold), y2: Y(c.threshold) }));
    svg.append(s("text", { x: L + 4, y: Math.max(10, Y(c.threshold) - 3) }, `${c.alarm} threshold ${c.threshold}`));
  }
  for (const b of c.breaches || []) svg.append(s("circle", { class: "breach", cx: X(b), cy: H - B - 4, r: 3.5 }, undefined));
  return h("div", { class: "card" }, h("h3", {}, c.title, h("span", { class: "muted" }, " " + c.unit)),
    svg, h("div", { class: "legend" }, c.series.map((l, i) => h("span", { class: "k" + Math.min(i, 1) }, `${l.label} ${i === 0 ? "(old)" : "(new)"}  `)),
      c.breaches && c.breaches.length ? h("span", {}, `● ${c.breaches.length} breaching datapoint(s)`) : null));
}

async function deployment(id) {
  const d = await get(`/ui/api/deployments/${encodeURIComponent(id)}`);
  const s = d.summary;
  scale = d.scale;
  const done = ["Succeeded", "Failed", "Stopped"].includes(s.status);
  const why = done ? h("p", { class: "why " + (s.status === "Succeeded" ? "good" : "bad"), id: "why", role: "status" }, s.why)
    : h("p", { class: "why", id: "why", role: "status" }, `In progress: ${s.lifecycleEvent || s.status}${s.steps ? `, step ${s.step}/${s.steps}` : ""}, version ${s.toVersion} at ${(s.targetWeight * 100).toFixed(0)}%.`);
  show(
    h("h2", {}, `Deployment ${s.id}`),
    why,
    h("p", { class: "muted" }, `${s.function}: v${s.fromVersion} → v${s.toVersion}, ${s.config}, created ${fmtDate(s.created)} by ${s.creator}`,
      s.durationSeconds ? `, took ${fmtDur(s.durationSeconds)}` : "", d.scale !== 1 ? ` (engine time ran ${d.scale}× faster; times shown are wall time)` : ""),
    d.rollback ? h("p", {}, "Rolled back by ", h("a", { href: `#/d/${d.rollback.id}` }, d.rollback.id)) : null,
    d.triggeredBy ? h("p", {}, "Rollback of ", h("a", { href: `#/d/${d.triggeredBy.id}` }, d.triggeredBy.id)) : null,
    done ? null : controls(s, s.function),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "tl" }, h("h3", { id: "tl" }, "Timeline"),
        h("ol", { class: "timeline" }, d.timeline.map((m) => h("li", { class: m.kind }, h("time", { datetime: m.at }, fmtTime(m.at)), " ", m.label)))),
      h("section", { class: "card", "aria-labelledby": "hk" }, h("h3", { id: "hk" }, "Hooks"),
        d.hooks.length ? h("ul", {}, d.hooks.map((k) => h("li", {}, `${k.event}: ${k.function} `, h("span", { class: "status " + k.status }, k.status), k.detail ? ` — ${k.detail}` : "", " · ", h("a", { href: `#/logs/${encodeURIComponent(k.function)}/${k.logsUrl.split("since=")[1]}` }, "logs"))))
          : h("p", { class: "muted" }, "no hooks")),
      h("section", { class: "card", "aria-labelledby": "al" }, h("h3", { id: "al" }, "Alarms"),
        d.alarms.length ? d.alarms.map(alarmLine) : h("p", { class: "muted" }, "none"))),
    h("h3", {}, "Old and new version"),
    h("div", { class: "grid charts" }, d.charts.map((c) => chart(c))));
}

async function history() {
  const list = await get("/ui/api/deployments");
  show(h("h2", {}, "History"),
    h("table", { class: "rows" }, h("thead", {}, h("tr", {}, ["Deployment", "Function", "Status", "Created by", "Created", "Took"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.map((s) => h("tr", {},
        h("td", { "data-label": "Deployment" }, h("a", { href: `#/d/${s.id}` }, s.id)),
        h("td", { "data-label": "Function" }, s.function, ` v${s.fromVersion} → v${s.toVersion}`),
        h("td", { "data-label": "Status" }, h("span", { class: "status " + s.status }, statusMark(s.status) + s.status), s.why ? h("div", { class: "muted" }, s.why) : null),
        h("td", { "data-label": "Created by" }, s.creator),
        h("td", { "data-label": "Created" }, fmtDate(s.created)),
        h("td", { "data-label": "Took" }, fmtDur(s.durationSeconds)))))));
}

async function logsView(fn, since) {
  const l = await get(`/ui/api/logs?function=${encodeURIComponent(fn)}&since=${since}`);
  show(h("h2", {}, `Logs of ${fn}`), h("p", {}, h("button", { onclick: () => history.back() }, "← back")),
    h("pre", { class: "logs" }, l.events.map((e) => `${fmtTime(e.time)} ${e.message}\n`).join("") || "no log events"));
}

let rendering = false, again = false;
async function render() {
  if (rendering) { again = true; return; }
  rendering = true;
  try {
    const [, view, a, b] = (location.hash || "#/").split("/");
    document.querySelectorAll("nav a").forEach((n) => n.removeAttribute("aria-current"));
    if (view === "d") await deployment(decodeURIComponent(a));
    else if (view === "history") { document.getElementById("nav-history").setAttribute("aria-current", "page"); await history(); }
    else if (view === "logs") await logsView(decodeURIComponent(a), b);
    else { document.getElementById("nav-overview").setAttribute("aria-current", "page"); await overview(); }
    document.getElementById("clock").textContent = scale !== 1 ? `engine time runs ${scale}× faster; all times are wall time` : "";
  } catch (e) {
    show(h("p", { class: "notice", role: "alert" }, "Cannot read the engine: " + e.message));
  } finally {
    rendering = false;
    if (again) { again = false; render(); }
  }
}

window.addEventListener("hashchange", () => { render(); main.focus(); });
const events = new EventSource("/ui/events");
const live = document.getElementById("live");
events.addEventListener("hello", () => { live.textContent = "live"; render(); });
events.addEventListener("change", () => { if (!document.querySelector("dialog[open]")) render(); });
events.addEventListener("metrics", () => { if (!document.querySelector("dialog[open]") && location.hash.startsWith("#/d/")) render(); });
events.onerror = () => { live.textContent = "reconnecting…"; };
render();
