// My connection: the gateway in use and the standby, the session and its
// expiry, health and throughput over the last minutes, what was used and
// what is left, a banner when the gateway asks for payment, the switches
// auto mode made and why, Disconnect; and the tether's pairing screen when
// the tether plugin runs.
import { rpc } from "../rpc.js";
import { el, Table, ago, until, clock, bytes, ms, pct, rate, chart, busy, fill, facts } from "../ui.js";
import { sample, samples, latest } from "../sampler.js";

let box = null, body = null, switches = null, tether = null;

function remaining(p) {
  if (!p) return "–";
  const t = p.secondsRemaining < 0 ? "no time limit" : `${Math.round(p.secondsRemaining / 60)} min`;
  const b = p.bytesRemaining < 0 ? "no data limit" : bytes(p.bytesRemaining);
  return `${t}, ${b}`;
}

function connectionCard(title, c, health) {
  if (!c) return null;
  const used = c.traffic && c.traffic.counted ? `${bytes(c.traffic.bytesOut)} out, ${bytes(c.traffic.bytesIn)} in (counted here)` : null;
  const metered = c.meteredByGateway ? `${bytes(c.meteredByGateway.bytesOut)} out, ${bytes(c.meteredByGateway.bytesIn)} in (counted by the gateway ${ago(c.meteredByGateway.at)})` : null;
  return el("div", { class: "card" }, el("h2", null, title), facts([
    ["Gateway", `${c.gatewayName || "–"} (${c.gatewayAddress}${c.gatewayPort !== 65533 ? ` port ${c.gatewayPort}` : ""})`],
    ["Suite", c.suite],
    ["Session", `${c.sessionId.slice(0, 8)}…, since ${clock(c.created)}`],
    ["Expires", `${until(c.expires)} (renewed every ${Math.round(c.timeout / 3)} s)`],
    health && ["Health", el("span", { class: health.health === "up" ? "ok" : health.health === "down" ? "bad" : "warn" },
      `${health.health}${health.rttMs ? `, ${ms(health.rttMs.median)}` : ""}, loss ${pct(health.loss)}${health.uplinkDown ? ", the gateway's uplink is down" : ""}`)],
    c.tunnel && c.tunnel.address4 && ["Addresses", [c.tunnel.address4, c.tunnel.address6].filter(Boolean).join(", ")],
    (used || metered) && ["Used", [used, metered].filter(Boolean).join("; ")],
    c.payment && ["Left", remaining(c.payment)],
  ]));
}

function render(r) {
  const sub = r.subscriber;
  const c = sub.connection;
  const parts = [];
  if (c && c.payment && c.payment.required) {
    const url = c.payment.url;
    parts.push(el("p", { class: "banner-warn", role: "alert" }, "Payment required: the gateway holds your traffic until you pay. ",
      url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "Open the gateway's payment page") : "The gateway gave no page."));
  }
  const portal = (sub.checks || []).find((x) => x.outcome === "payment required");
  if (portal && !(c && c.payment && c.payment.required))
    parts.push(el("p", { class: "banner-warn", role: "alert" }, `A check met a login or payment page: ${portal.target} (${portal.detail})`));
  const disconnect = el("button", { type: "button", id: "disconnect", disabled: !c, onclick: (e) => busy(e.target, async () => {
    await rpc("disconnect");
    await refresh();
  }) }, "Disconnect");
  parts.push(el("div", { class: "bar" },
    el("strong", { id: "connection-state" }, `State: ${sub.state}`),
    sub.auto ? (sub.pinned ? "auto mode on, paused by a manual connect or disconnect" : "auto mode on") : "auto mode off",
    disconnect));
  if (sub.lastError) parts.push(el("p", { class: "error" }, sub.lastError));
  parts.push(el("div", { class: "cards" },
    c ? connectionCard("Active gateway", c, sub.health) : el("div", { class: "card" }, el("h2", null, "Active gateway"), el("p", null, "Not connected. Choose a gateway under Gateways, or turn auto mode on.")),
    sub.standby ? connectionCard("Standby gateway", sub.standby, sub.standby.health) : null));
  const recent = samples.map((s) => s);
  parts.push(el("div", { class: "cards" },
    el("div", { class: "card" }, el("h2", null, "Round trip and loss"),
      chart([{ label: "round trip", points: recent.map((s) => [s.t, s.rtt]) }], { format: ms, floor: 1 }),
      chart([{ label: "loss", cls: "third", points: recent.map((s) => [s.t, s.loss]) }], { height: 60, format: (v) => `${Math.round(v * 100)} %`, floor: 0.1 })),
    el("div", { class: "card" }, el("h2", null, "Throughput"),
      c && !(c.traffic && c.traffic.counted) ? el("p", { class: "note" }, `The ${c.suite} tunnel has no device of its own here, so its traffic is not counted.`)
        : chart([{ label: "down", points: recent.map((s) => [s.t, s.down]) }, { label: "up", cls: "second", points: recent.map((s) => [s.t, s.up]) }], { format: rate }))));
  parts.push(el("p", { class: "note" }, "Charts: the last 15 minutes, a sample every 5 s (kept by the node)."));
  if (sub.checks && sub.checks.length)
    parts.push(el("h2", null, "Checks through the tunnel"), facts(sub.checks.map((x) => [x.target, `${x.outcome}${x.detail ? `: ${x.detail}` : ""}`])));
  fill(body, ...parts);
  switches.set((sub.switches || []).slice());
}

async function renderTether() {
  const plugins = await rpc("listPlugins");
  const running = plugins.plugins.some((p) => p.name === "tether" && (p.state === "running" || p.state === "degraded"));
  if (!tether) return;
  if (!running) return fill(tether);
  const p = await rpc("tether.pairing");
  if (!tether) return;
  const renew = el("button", { type: "button", class: "secondary", onclick: (e) => busy(e.target, async () => {
    await rpc("tether.pairing", { renew: true });
    await renderTether();
  }) }, "New code");
  fill(tether, el("h2", null, "Tether through a phone"),
    p.serving ? facts([
      ["Open on the phone", el("span", null, (p.urls || []).flatMap((u) => [u, el("br")]))],
      ["Pairing code", el("strong", null, p.code)],
      ["State", `${p.state}${p.detail ? `: ${p.detail}` : ""}`],
      p.page && ["Phone", p.page],
    ]) : el("p", null, p.error || "The tether page is not being served (tether.enabled)."),
    p.serving ? el("p", { class: "bar" }, renew) : null);
}

async function refresh() {
  if (!body) return;
  if (latest) render(latest);
  await renderTether();
}

export default {
  title: "My connection",
  async mount(b) {
    box = b;
    body = el("div");
    tether = el("section", { class: "card", "aria-label": "tether" });
    switches = new Table([
      { key: "time", label: "When", value: (s) => s.time, cell: (s) => clock(s.time) },
      { key: "from", label: "From", value: (s) => s.from },
      { key: "to", label: "To", value: (s) => s.to },
      { key: "reason", label: "Why", value: (s) => s.reason },
    ], { empty: "Auto mode has not switched gateways.", label: "switches", filter: false });
    switches.sortKey = "time";
    switches.sortDir = -1;
    fill(box, el("h1", { id: "view-title" }, "My connection"), body,
      el("h2", null, "Switches between gateways"), switches.element, tether);
    const r = await sample();
    if (box !== b) return;  // another view meanwhile
    render(r);
    await renderTether();
  },
  refresh,
  onEvent(e) {
    if (e.topic.startsWith("subscriber.")) sample().then((r) => body && render(r)).catch(() => {});
  },
  unmount() { box = body = switches = tether = null; },
};
