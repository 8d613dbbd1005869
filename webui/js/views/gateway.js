// Gateway mode: on or off, the offer as other nodes see it, the uplink
// check, the sessions served (with Release), and vouchers: create in
// batches and print, list, revoke.
import { rpc } from "../rpc.js";
import { el, Table, ago, until, clock, bytes, rate, busy, now, fill, facts } from "../ui.js";
import { latest } from "../sampler.js";

let box = null, offer = null, sessions = null, vouchers = null, enabled = null, printable = null, stateFilter = null;
const previous = new Map();  // sessionId -> {t, bytesIn, bytesOut}: for the rates

function terms(t) {
  if (t.method === "free") return `free${t.note ? ` (${t.note})` : ""}`;
  const parts = [];
  if (t.pricePerHour) parts.push(`${t.pricePerHour} ${t.currency}/h`);
  if (t.pricePerGB) parts.push(`${t.pricePerGB} ${t.currency}/GB`);
  if (t.voucherOnly) parts.push("vouchers only");
  return `${t.method}: ${parts.join(", ") || "–"}${t.note ? ` (${t.note})` : ""}`;
}

function showOffer(info, uplink) {
  fill(offer, facts([
    ["Offered", info.gateway ? el("span", { class: "ok" }, "yes") : el("span", { class: "warn" }, info.uplink === false ? "no: the uplink is down" : "no")],
    ["Suites", (info.suites || []).join(", ") || "–"],
    info.payments && ["Terms", Object.values(info.payments).map(terms).join("; ")],
    info.capacity && ["Capacity", `${info.capacity.sessions} of ${info.capacity.maxConnections} sessions`],
    info.services && Object.keys(info.services).length && ["Services", Object.entries(info.services).map(([k, v]) => `${k}: ${v}`).join("; ")],
    info.tunnelKeys && Object.keys(info.tunnelKeys).length && ["Tunnel keys", Object.entries(info.tunnelKeys).map(([k, v]) => `${k}: ${v}`).join("; ")],
    ["Uplink check", uplink ? `${uplink.state}${uplink.since ? ` since ${clock(uplink.since)}` : ""}${uplink.lastFailure ? ` (${uplink.lastFailure})` : ""}` : "–"],
  ]));
}

function sessionRates(list) {
  const t = now();
  for (const s of list) {
    const p = previous.get(s.sessionId);
    if (p && t > p.t) {
      s.rateIn = Math.max(0, (s.used.bytesIn - p.bytesIn) * 8 / (t - p.t));
      s.rateOut = Math.max(0, (s.used.bytesOut - p.bytesOut) * 8 / (t - p.t));
      if (s.used.bytesIn === p.bytesIn && s.used.bytesOut === p.bytesOut) {
        s.rateIn = p.rateIn;
        s.rateOut = p.rateOut;
        continue;  // the meter has not counted again yet
      }
    }
    previous.set(s.sessionId, { t, bytesIn: s.used.bytesIn, bytesOut: s.used.bytesOut, rateIn: s.rateIn, rateOut: s.rateOut });
  }
  return list;
}

function paymentText(p) {
  if (!p) return "–";
  if (p.required) return "waiting for payment";
  const left = [p.secondsRemaining >= 0 ? `${Math.round(p.secondsRemaining / 60)} min` : null, p.bytesRemaining >= 0 ? bytes(p.bytesRemaining) : null].filter(Boolean);
  return left.length ? `paid, ${left.join(", ")} left` : "free or unlimited";
}

// `fresh`: after an action here, not the sampler's answer of up to 5 s ago.
async function refresh(fresh = false) {
  if (!box) return;
  const [info, list] = await Promise.all([rpc("nodeInfo"), latest && !fresh ? Promise.resolve(latest) : rpc("listSessions")]);
  const cfg = await rpc("getConfig", { key: "gateway.enabled" });
  if (!box) return;
  enabled.checked = cfg.value;
  showOffer(info, list.uplink);
  sessions.set(sessionRates(list.gateway.map((s) => ({ ...s }))));
  await refreshVouchers();
}

async function refreshVouchers() {
  if (!stateFilter) return;
  const params = stateFilter.value ? { state: stateFilter.value } : {};
  const r = await rpc("listVouchers", params);
  if (vouchers) vouchers.set(r.vouchers);
}

function limits(v) {
  return [v.minutes ? `${v.minutes} min` : null, v.bytes ? bytes(v.bytes) : null, v.rateDown ? `↓ ${rate(v.rateDown)}` : null,
    v.rateUp ? `↑ ${rate(v.rateUp)}` : null, v.devices > 1 ? `${v.devices} devices` : null,
    v.validUntil ? `until ${clock(v.validUntil)}` : null].filter(Boolean).join(", ") || "no limits";
}

function createForm() {
  const field = (name, label, attrs) => el("label", null, `${label} `, el("input", { name, ...attrs }));
  const form = el("form", { class: "bar", id: "create-vouchers", "aria-label": "Create vouchers" },
    field("count", "How many", { type: "number", min: 1, max: 1000, value: 10, required: true }),
    field("minutes", "Minutes each (0: no limit)", { type: "number", min: 0, value: 60 }),
    field("bytes", "Data each (e.g. 1G; empty: no limit)", { type: "text", size: 8 }),
    field("devices", "Devices", { type: "number", min: 1, max: 1000, value: 1 }),
    field("validDays", "Valid for days (0: for ever)", { type: "number", min: 0, max: 3660, value: 0 }),
    field("note", "Note", { type: "text", maxLength: 200 }),
    el("button", { type: "submit" }, "Create"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const params = { count: Number(f.get("count")), minutes: Number(f.get("minutes") || 0), devices: Number(f.get("devices") || 1) };
    if (f.get("bytes")) params.bytes = String(f.get("bytes"));
    if (Number(f.get("validDays"))) params.validDays = Number(f.get("validDays"));
    if (f.get("note")) params.note = String(f.get("note"));
    busy(form.querySelector("button"), async () => {
      const r = await rpc("createVouchers", params);
      fill(printable, 
        el("h2", null, `${r.vouchers.length} new voucher(s)`),
        el("p", { class: "bar" }, el("button", { type: "button", onclick: () => window.print() }, "Print them")),
        el("div", { class: "vouchers-print" }, r.vouchers.map((v) => el("div", null, el("strong", null, v.code), el("br"), limits(v), v.note ? [el("br"), v.note] : null))),
        el("ul", { class: "no-print" }, r.vouchers.map((v) => el("li", null, el("code", null, v.code), ` — ${limits(v)}`))));
      await refreshVouchers();
    });
  });
  return form;
}

export default {
  title: "Gateway mode",
  async mount(b) {
    box = b;
    enabled = el("input", { type: "checkbox", id: "gateway-enabled", onchange: (e) => busy(e.target, async () => {
      try {
        await rpc("setConfig", { "gateway.enabled": e.target.checked });
      } catch (err) {
        e.target.checked = !e.target.checked;
        throw err;
      }
      await refresh(true);
    }) });
    offer = el("div");
    sessions = new Table([
      { key: "subscriber", label: "Subscriber", value: (s) => s.subscriber, cell: (s) => `${s.name || "–"} (${s.subscriber})` },
      { key: "suite", label: "Suite", value: (s) => s.suite },
      { key: "tunnel", label: "Tunnel", value: (s) => s.suite.split("-")[1] || "" },
      { key: "bytes", label: "Bytes out / in", value: (s) => s.used.bytesOut + s.used.bytesIn, cell: (s) => `${bytes(s.used.bytesOut)} / ${bytes(s.used.bytesIn)}` },
      { key: "rate", label: "Rate out / in", value: (s) => (s.rateOut || 0) + (s.rateIn || 0), cell: (s) => `${rate(s.rateOut)} / ${rate(s.rateIn)}` },
      { key: "since", label: "Since", value: (s) => s.created, cell: (s) => ago(s.created) },
      { key: "expires", label: "Expires", value: (s) => s.expires, cell: (s) => until(s.expires) },
      { key: "payment", label: "Payment", value: (s) => paymentText(s.payment) },
      { key: "release", label: "", cell: (s) => el("button", { type: "button", class: "secondary release", "aria-label": `Release the session of ${s.subscriber}`,
        onclick: (e) => busy(e.target, async () => {
          await rpc("releaseSession", { sessionId: s.sessionId });
          await refresh(true);
        }) }, "Release") },
    ], { empty: "No subscriber holds a session.", label: "sessions" });
    stateFilter = el("select", { "aria-label": "Vouchers in state", onchange: () => refreshVouchers().catch(() => {}) },
      el("option", { value: "" }, "all"), ["new", "in use", "spent"].map((s) => el("option", { value: s }, s)));
    vouchers = new Table([
      { key: "code", label: "Code", value: (v) => v.code, cell: (v) => el("code", null, v.code) },
      { key: "state", label: "State", value: (v) => v.state, cell: (v) => `${v.state}${v.why ? ` (${v.why})` : ""}` },
      { key: "limits", label: "Limits", value: (v) => limits(v) },
      { key: "used", label: "Used", value: (v) => v.usedBytes, cell: (v) => bytes(v.usedBytes) },
      { key: "left", label: "Left", value: (v) => v.secondsLeft, cell: (v) => [v.secondsLeft >= 0 ? `${Math.round(v.secondsLeft / 60)} min` : "no time limit", v.bytesLeft >= 0 ? bytes(v.bytesLeft) : "no data limit"].join(", ") },
      { key: "note", label: "Note", value: (v) => v.note },
      { key: "created", label: "Created", value: (v) => v.created, cell: (v) => clock(v.created) },
      { key: "revoke", label: "", cell: (v) => (v.revoked ? "revoked" : el("button", { type: "button", class: "secondary revoke", "aria-label": `Revoke ${v.code}`,
        onclick: (e) => busy(e.target, async () => {
          await rpc("revokeVoucher", { code: v.code });
          await refreshVouchers();
        }) }, "Revoke")) },
    ], { empty: "No vouchers.", label: "vouchers" });
    printable = el("div");
    fill(box, 
      el("h1", { id: "view-title" }, "Gateway mode"),
      el("div", { class: "bar" }, el("label", { for: "gateway-enabled" }, enabled, " Offer this node's uplink to the mesh (gateway.enabled)")),
      el("h2", null, "The offer, as other nodes see it"), offer,
      el("h2", null, "Sessions served"), sessions.element,
      el("h2", null, "Vouchers"), createForm(), printable,
      el("div", { class: "bar" }, el("label", null, "Show ", stateFilter)), vouchers.element);
    await refresh();
  },
  refresh: () => refresh(),
  onEvent(e) {
    if (e.topic === "gateway.uplink" || e.topic === "config.changed") refresh(true).catch(() => {});
  },
  unmount() { box = offer = sessions = vouchers = enabled = printable = stateFilter = null; },
};
