// The status page: node facts, gateways (found by scans or heard in the
// DHT) and plugins, refreshed every few seconds; "Scan now" starts a scan
// and follows it.
"use strict";

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function showNode(info, status) {
  document.getElementById("name").textContent = `“${info.name}”`;
  document.getElementById("summary").textContent =
    `version ${info.version}, ${info.gateway ? "gateway" : "subscriber"}, up ${status.uptime} s`;
  const dl = document.getElementById("node");
  dl.replaceChildren();
  const rows = [
    ["Gateway", info.gateway ? "enabled" : "disabled"],
    ["Suites", info.suites.join(", ") || "–"],
    ["IPv6", info.ipv6support ? "yes" : "no"],
    ["Listening", status.rpc.listening.join(", ")],
    ["Config file", status.configFile || "(built-in defaults)"],
    ["Database", `${status.database.file} (schema ${status.database.schemaVersion})`],
  ];
  if (status.restartRequired.length)
    rows.push(["Restart to apply", status.restartRequired.join(", ")]);
  for (const [k, v] of rows) dl.append(text("dt", k), text("dd", v));
}

function showPlugins(list) {
  const body = document.querySelector("#plugins tbody");
  body.replaceChildren();
  for (const p of list) {
    const tr = document.createElement("tr");
    tr.append(text("td", p.name || p.path), text("td", p.kind), text("td", p.version),
              text("td", p.state, `state-${p.state}`), text("td", p.error || p.summary));
    body.append(tr);
  }
}

function ago(seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function showGateways(list) {
  const body = document.querySelector("#gateways tbody");
  body.replaceChildren();
  if (!list.length) {
    const tr = document.createElement("tr");
    const td = text("td", "No gateways known yet: scan the mesh.");
    td.colSpan = 7;
    tr.append(td);
    body.append(tr);
  }
  for (const g of list) {
    const tr = document.createElement("tr");
    if (!g.current) tr.className = "stale";
    const price = typeof g.price === "number" ? (g.price === 0 ? "free" : `${g.price} ${g.currency}`) : "–";
    tr.append(text("td", g.name), text("td", g.address), text("td", g.port),
              text("td", g.suites.join(", ")), text("td", price), text("td", g.source),
              text("td", ago(g.lastSeen) + (g.current ? "" : " (not in the last scan)")));
    body.append(tr);
  }
}

function showScan(st) {
  const bar = document.getElementById("scan-progress");
  const state = document.getElementById("scan-state");
  document.getElementById("scan").disabled = st.running;
  bar.hidden = !st.running;
  if (st.running) {
    bar.max = Math.max(1, st.total);
    bar.value = st.probed;
    state.textContent = `${st.probed}/${st.total} probed, ${st.found} found`;
  } else if (st.scan > 0) {
    state.textContent = `last scan: ${st.found} node(s), ${st.gateways} gateway(s) in ${st.seconds.toFixed(2)} s`;
  }
}

async function followScan() {
  for (let i = 0; i < 18000; i++) {  // bounded: half an hour of polling
    const st = await rpc("scanStatus");
    showScan(st);
    if (!st.running) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  showGateways((await rpc("listGateways")).gateways);
}

document.getElementById("scan").addEventListener("click", async () => {
  try {
    await rpc("startScan");
    await followScan();
  } catch (e) {
    document.getElementById("scan-state").textContent = `scan failed: ${e.message}`;
  }
});

// The tether's page and pairing code, while the tether plugin serves it.
function showTether(pairing) {
  const section = document.getElementById("tether");
  section.hidden = !pairing || !pairing.serving;
  if (section.hidden) return;
  const urls = document.getElementById("tether-urls");
  urls.replaceChildren(...(pairing.urls || []).map((u) => {
    const line = document.createElement("div");
    line.textContent = u;
    return line;
  }));
  document.getElementById("tether-code").textContent = pairing.code;
  document.getElementById("tether-state").textContent =
    pairing.state + (pairing.detail ? `: ${pairing.detail}` : "");
}

async function refreshTether(plugins) {
  const running = plugins.some((p) => p.name === "tether" && p.state === "running");
  showTether(running ? await rpc("tether.pairing") : null);
}

document.getElementById("tether-renew").addEventListener("click", async () => {
  try {
    showTether(await rpc("tether.pairing", { renew: true }));
  } catch (e) {
    document.getElementById("tether-state").textContent = `no new code: ${e.message}`;
  }
});

async function refresh() {
  const error = document.getElementById("error");
  try {
    const [info, status, plugins, gateways, scan] = await Promise.all([
      rpc("nodeInfo"), rpc("status"), rpc("listPlugins"), rpc("listGateways"), rpc("scanStatus")]);
    showNode(info, status);
    showGateways(gateways.gateways);
    showScan(scan);
    showPlugins(plugins.plugins);
    await refreshTether(plugins.plugins);
    error.hidden = true;
  } catch (e) {
    error.textContent = `mnigsd: ${e.message}`;
    error.hidden = false;
  }
}

refresh();
setInterval(refresh, 5000);
