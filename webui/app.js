// The status page: node facts and plugins, refreshed every few seconds.
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

async function refresh() {
  const error = document.getElementById("error");
  try {
    const [info, status, plugins] =
      await Promise.all([rpc("nodeInfo"), rpc("status"), rpc("listPlugins")]);
    showNode(info, status);
    showPlugins(plugins.plugins);
    error.hidden = true;
  } catch (e) {
    error.textContent = `mnigsd: ${e.message}`;
    error.hidden = false;
  }
}

refresh();
setInterval(refresh, 5000);
