// Mesh: the nodes scans found, the links discovery reports (a map where
// there are any), what each discovery and tunnel plugin sees, and the DHT.
import { rpc } from "../rpc.js";
import { el, Table, ago, ms, fill } from "../ui.js";

let box = null, nodes = null, plugins = null, map = null, dht = null, shown = "";

// A plugin's own status in one line: its plain figures and words.
function summary(p) {
  if (p.error) return p.error;
  const s = p.status;
  if (!s || typeof s !== "object") return p.summary || "";
  const parts = [];
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === "number" || typeof v === "boolean" || (typeof v === "string" && v && v.length < 80)) parts.push(`${k}: ${v}`);
    else if (Array.isArray(v)) parts.push(`${k}: ${v.length}`);
    if (parts.length >= 10) break;
  }
  return parts.join(", ") || p.summary || "";
}

// Nodes on a circle, this node in the middle; links by the protocols' ids.
function drawMap(list, links) {
  const NS = "http://www.w3.org/2000/svg";
  if (!links.length) return el("p", { class: "note" }, "No links reported: the map needs a routing protocol's view (babel, batman-adv, olsr, cjdns).");
  const byMeshId = new Map([["", { name: "this node", x: 300, y: 210 }]]);
  const n = Math.max(1, list.length);
  list.forEach((node, i) => {
    const a = (2 * Math.PI * i) / n;
    const p = { name: node.name || node.address, x: 300 + 250 * Math.cos(a), y: 210 + 180 * Math.sin(a), gw: node.gateway };
    for (const id of Object.values(node.meshIds || {})) byMeshId.set(id, p);
  });
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 600 420");
  svg.setAttribute("class", "map");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `mesh map: ${list.length} nodes, ${links.length} links`);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    svg.append(e);
  };
  for (const l of links) {
    const a = byMeshId.get(l.from), b = byMeshId.get(l.to);
    if (a && b) add("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y });
  }
  for (const p of new Set(byMeshId.values())) {
    add("circle", { cx: p.x, cy: p.y, r: 7, class: p.gw ? "gw" : "" });
    add("text", { x: p.x + 10, y: p.y + 4 }, p.name);
  }
  return svg;
}

async function refresh() {
  if (!box) return;
  const [n, p, d] = await Promise.all([rpc("listNodes"), rpc("listPlugins"), rpc("dhtStatus")]);
  if (!box) return;
  const text = JSON.stringify([n, p.plugins.map((x) => [x.name, x.state, summary(x)])], (k, v) => (k === "age" ? undefined : v));
  if (text !== shown) {
    nodes.set(n.nodes);
    plugins.set(p.plugins);
    fill(map, drawMap(n.nodes, n.links));
  }
  shown = text;
  fill(dht, d.running
    ? `running, ${d.peers.ipv4.good + d.peers.ipv6.good} good peers (${d.peers.ipv4.dubious + d.peers.ipv6.dubious} dubious), ${d.offers} offers heard, ${d.publishing ? "publishing this gateway's offer" : "not publishing"}${d.error ? `; ${d.error}` : ""}`
    : `not running${d.error ? `: ${d.error}` : ""}`);
}

export default {
  title: "Mesh",
  async mount(b) {
    box = b;
    nodes = new Table([
      { key: "name", label: "Name", value: (x) => x.name },
      { key: "address", label: "Address", value: (x) => x.address },
      { key: "networks", label: "Seen by", value: (x) => (x.networks || []).join(", ") },
      { key: "gateway", label: "Gateway", value: (x) => (x.gateway ? "yes" : "no") },
      { key: "rtt", label: "Answer time", value: (x) => x.rtt, cell: (x) => ms(x.rtt) },
      { key: "version", label: "Version", value: (x) => x.version },
      { key: "seen", label: "Seen", value: (x) => x.lastSeen, cell: (x) => `${ago(x.lastSeen)}${x.current === false ? " (not in the last scan)" : ""}` },
    ], { empty: "No nodes yet: scan the mesh under Gateways.", label: "nodes" });
    plugins = new Table([
      { key: "name", label: "Plugin", value: (x) => x.name || x.path },
      { key: "kind", label: "Kind", value: (x) => x.kind },
      { key: "state", label: "State", value: (x) => x.state, cell: (x) => el("span", { class: x.state === "running" ? "ok" : x.state === "degraded" ? "warn" : x.state === "failed" || x.state === "refused" ? "bad" : "" }, x.state) },
      { key: "version", label: "Version", value: (x) => x.version },
      { key: "sees", label: "What it sees", value: (x) => summary(x) },
    ], { label: "plugins", filter: false });
    map = el("div");
    dht = el("p");
    fill(box, el("h1", { id: "view-title" }, "Mesh"),
      el("h2", null, "Map"), map, el("h2", null, "Nodes"), nodes.element,
      el("h2", null, "Plugins"), plugins.element, el("h2", null, "DHT"), dht);
    await refresh();
  },
  refresh,
  onEvent(e) {
    if (e.topic === "scan.finished" || e.topic === "discovery.changed" || e.topic === "plugin.failed") refresh().catch(() => {});
  },
  unmount() { box = nodes = plugins = map = dht = null; shown = ""; },
};
