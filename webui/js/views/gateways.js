// Gateways: every gateway found by scans or heard in the DHT, with its
// terms, load, last test and score; scan now (live progress from events),
// test and connect per row, and auto mode.
import { rpc } from "../rpc.js";
import { el, Table, ago, ms, pct, busy, showError, fill } from "../ui.js";

let box = null, table = null, progress = null, scanState = null, scanButton = null, autoBox = null;
let mySuites = [];
let shown = "";
// Kept across the table's redraws: the suite chosen and the last words of
// a test or connect, per gateway address.
const chosen = new Map(), said = new Map();

function price(g) {
  if (g.paymentRequired === false && !g.price) return "free";
  if (typeof g.price !== "number") return g.paymentRequired ? "pays" : "–";
  const parts = [g.price === 0 ? "free" : `${g.price} ${g.currency || ""}/h`.trim()];
  if (g.pricePerGB) parts.push(`${g.pricePerGB} ${g.currency || ""}/GB`);
  if (g.voucherOnly) parts.push("voucher");
  return parts.join(", ");
}

function terms(g) {
  const notes = Object.values(g.payments || {}).map((t) => t.note).filter(Boolean);
  return notes.join("; ");
}

const test = (g) => g.lastTest || null;
const median = (g) => (test(g) && test(g).rttMs ? test(g).rttMs.median : undefined);

function testCell(g) {
  const t = test(g);
  if (!t) return "not tested";
  if (t.error) return el("span", { class: "bad", title: t.error }, "failed");
  const down = t.download ? t.download.mbitPerS : undefined, up = t.upload ? t.upload.mbitPerS : undefined;
  return el("span", { title: `tested ${ago(t.time)}` },
    `${ms(median(g))}, loss ${pct(t.loss)}`, el("br"),
    `↓ ${typeof down === "number" ? down.toFixed(1) : "–"} ↑ ${typeof up === "number" ? up.toFixed(1) : "–"} Mbit/s`);
}

function actions(g) {
  const usable = g.suites.filter((s) => mySuites.includes(s));
  if (!usable.length) return el("span", { class: "muted" }, "no suite in common");
  const select = el("select", { "aria-label": `Suite for ${g.name || g.address}`, onchange: () => chosen.set(g.address, select.value) },
    usable.map((s) => el("option", { value: s, selected: chosen.get(g.address) === s }, s)));
  const params = () => ({ address: g.address, port: g.port || 65533, suite: select.value });
  const result = el("span", { class: "result", role: "status" }, said.get(g.address) || "");
  const testButton = el("button", { type: "button", class: "secondary test", onclick: (e) => busy(e.target, async () => {
    result.textContent = "testing (5 to 15 s)…";
    try {
      const r = await rpc("testGateway", params());
      result.textContent = r.error ? `test failed: ${r.error}` : `${ms(r.rttMs && r.rttMs.median)}, loss ${pct(r.loss)}, score ${r.score ?? "–"}`;
      said.set(g.address, result.textContent);
      await refresh();
    } catch (err) {
      result.textContent = "";
      throw err;
    }
  }) }, "Test");
  const connectButton = el("button", { type: "button", class: "connect", onclick: (e) => busy(e.target, async () => {
    await rpc("connect", params());
    location.hash = "#connection";
  }) }, "Connect");
  return el("span", { class: "bar" }, select, testButton, connectButton, result);
}

function showScan(st) {
  if (!progress) return;
  scanButton.disabled = st.running;
  progress.hidden = !st.running;
  if (st.running) {
    progress.max = Math.max(1, st.total);
    progress.value = st.probed;
    scanState.textContent = `scanning: ${st.probed} of ${st.total} probed, ${st.found} found`;
  } else if (st.scan > 0) {
    const errors = (st.errors || []).map((e) => `${e.plugin}: ${e.error}`).join("; ");
    scanState.textContent = `last scan ${ago(st.finishedAt)}: ${st.found} node(s), ${st.gateways} gateway(s) in ${Number(st.seconds).toFixed(1)} s${errors ? ` (failed: ${errors})` : ""}`;
  } else scanState.textContent = "no scan yet";
}

async function refresh() {
  if (!table) return;
  const [list, scan, sessions, status] = await Promise.all([rpc("listGateways"), rpc("scanStatus"), rpc("listSessions"), rpc("status")]);
  if (!table) return;
  mySuites = status.suites;
  autoBox.checked = sessions.subscriber.auto;
  // Drawn again only when something changed: a choice in a row stays.
  const text = JSON.stringify([list.gateways, mySuites], (k, v) => (k === "age" ? undefined : v));
  if (text !== shown) table.set(list.gateways);
  shown = text;
  showScan(scan);
}

export default {
  title: "Gateways",
  async mount(b) {
    box = b;
    scanButton = el("button", { type: "button", id: "scan-now", onclick: (e) => busy(e.target, async () => {
      const r = await rpc("startScan");
      scanState.textContent = r.started ? "scan started" : "a scan is running";
    }) }, "Scan now");
    progress = el("progress", { hidden: true, "aria-label": "Scan progress" });
    scanState = el("span", { role: "status" });
    autoBox = el("input", { type: "checkbox", id: "auto", onchange: (e) => busy(e.target, async () => {
      try {
        await rpc("setAuto", { enabled: e.target.checked });
      } catch (err) {
        e.target.checked = !e.target.checked;
        throw err;
      }
    }) });
    table = new Table([
      { key: "name", label: "Name", value: (g) => g.name, cell: (g) => el("span", { title: g.id || g.dhtId || "" }, g.name || "–") },
      { key: "address", label: "Address", value: (g) => g.address, cell: (g) => `${g.address}${g.port && g.port !== 65533 ? ` port ${g.port}` : ""}` },
      { key: "suites", label: "Suites", value: (g) => g.suites.join(" "), cell: (g) => g.suites.join(", ") },
      { key: "price", label: "Price and terms", value: (g) => (typeof g.price === "number" ? g.price : 1e9), cell: (g) => el("span", { title: terms(g) }, price(g)) },
      { key: "load", label: "Load", value: (g) => (g.capacity ? g.capacity.sessions / Math.max(1, g.capacity.maxConnections || 1) : undefined),
        cell: (g) => (g.capacity ? `${g.capacity.sessions ?? "?"} of ${g.capacity.maxConnections ?? "?"}` : "–") },
      { key: "source", label: "Source", value: (g) => g.source },
      { key: "age", label: "Seen", value: (g) => g.age, cell: (g) => `${ago(g.lastSeen)}${g.current === false ? " (not in the last scan)" : ""}` },
      { key: "test", label: "Last test", value: (g) => median(g), cell: testCell },
      { key: "score", label: "Score", value: (g) => g.score, cell: (g) => (typeof g.score === "number" ? String(g.score) : "–") },
      { key: "actions", label: "Test or connect", cell: actions },
    ], { empty: "No gateways known yet: scan the mesh.", label: "gateways" });
    fill(box, 
      el("h1", { id: "view-title" }, "Gateways"),
      el("div", { class: "bar" }, scanButton, progress, scanState),
      el("div", { class: "bar" }, el("label", { for: "auto" }, autoBox, " Auto mode: connect to the best gateway, and switch when it fails")),
      el("p", { class: "note" }, "Score: median round trip in ms plus 1000 × loss; lower is better."),
      table.element);
    await refresh();
  },
  refresh,
  onEvent(e) {
    if (e.topic === "scan.progress" || e.topic === "scan.started") showScan({ running: true, total: 0, probed: 0, found: 0, ...e.data });
    if (e.topic === "scan.finished" || e.topic === "config.changed") refresh().catch((err) => showError(box, err));
  },
  unmount() {
    box = table = progress = scanState = scanButton = autoBox = null;
    shown = "";
  },
};
