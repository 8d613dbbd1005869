// Settings: a form for every key, made from getConfig {"describe": true}.
// Live keys apply at once; the others after a restart (said so); keys that
// only the config file may set (hooks and the like) are shown read-only.
import { rpc } from "../rpc.js";
import { el, busy, fill } from "../ui.js";

let box = null;
const LISTS = new Set(["string_list", "port_list", "cidr_list"]);

function input(name, d) {
  const id = `key-${name}`;
  const common = { id, name, disabled: d.fileOnly, "aria-describedby": `${id}-help` };
  if (d.kind === "boolean") return el("input", { ...common, type: "checkbox", checked: !!d.value });
  if (d.kind === "integer" || d.kind === "port")
    return el("input", { ...common, type: "number", step: 1, min: d.kind === "port" ? 1 : d.min, max: d.kind === "port" ? 65535 : d.max, value: d.value });
  if (d.choices) return el("select", common, d.choices.map((c) => el("option", { value: c, selected: c === d.value }, c)));
  if (LISTS.has(d.kind)) return el("textarea", { ...common, rows: Math.max(2, (d.value || []).length), value: (d.value || []).join("\n") });
  return el("input", { ...common, type: "text", value: d.value ?? "" });
}

function read(field, d) {
  if (d.kind === "boolean") return field.checked;
  if (d.kind === "integer" || d.kind === "port") return field.value === "" ? field.value : Number(field.value);
  if (LISTS.has(d.kind)) {
    const items = field.value.split("\n").map((s) => s.trim()).filter(Boolean);
    return d.kind === "port_list" ? items.map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : items;
  }
  return field.value;
}

function section(name, keys) {
  const rows = [];
  const form = el("form", { class: "settings", "aria-label": name });
  const result = el("p", { class: "note", role: "status" });
  for (const [key, d] of Object.entries(keys)) {
    const dotted = `${name}.${key}`;
    const field = input(dotted, d);
    const error = el("p", { class: "error", id: `key-${dotted}-error`, role: "alert", hidden: true });
    const badge = d.fileOnly ? "config file only" : d.live ? "live" : "restart";
    rows.push({ dotted, d, field, error });
    form.append(el("div", { class: "field" },
      el("label", { for: field.id }, key, el("span", { class: "badge" }, badge)),
      field,
      el("p", { class: "help", id: `key-${dotted}-help` }, `${d.help} — ${d.type}; default ${JSON.stringify(d.default)}`),
      error));
  }
  const save = el("button", { type: "submit" }, `Save ${name}`);
  form.append(el("p", { class: "bar" }, save, result));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const changes = {};
    for (const r of rows) {
      if (r.d.fileOnly) continue;
      const v = read(r.field, r.d);
      if (JSON.stringify(v) !== JSON.stringify(r.d.value)) changes[r.dotted] = v;
      r.error.hidden = true;
    }
    result.textContent = "";
    if (!Object.keys(changes).length) return (result.textContent = "Nothing changed.");
    busy(save, async () => {
      try {
        const r = await rpc("setConfig", changes);
        for (const row of rows) if (row.dotted in r.values) row.d.value = r.values[row.dotted];
        const parts = [];
        if (r.applied.length) parts.push(`applied: ${r.applied.join(", ")}`);
        if (r.restartRequired.length) parts.push(`written, applied after a restart of mnigsd: ${r.restartRequired.join(", ")}`);
        result.textContent = `Saved (${parts.join("; ")}).`;
      } catch (err) {
        // The daemon's words, next to each field they name.
        const messages = Array.isArray(err.data) ? err.data : [err.message];
        let placed = false;
        for (const m of messages) {
          const row = rows.find((x) => m.startsWith(`${x.dotted} `) || m.startsWith(`${x.dotted}:`));
          if (row) {
            row.error.textContent = m;
            row.error.hidden = false;
            row.field.setAttribute("aria-invalid", "true");
            row.field.closest("details").open = true;
            if (!placed) row.field.focus();
            placed = true;
          }
        }
        if (!placed) throw err;
        result.textContent = "Nothing was changed.";
      }
    });
  });
  return el("details", { class: "section", id: `section-${name}` }, el("summary", null, el("h2", null, name)), form);
}

// The core's sections first, in the order people look for them.
const CORE = ["main", "gateway", "subscriber", "scan", "daemon"];
const rank = (name) => (CORE.includes(name) ? CORE.indexOf(name) : CORE.length);

export default {
  title: "Settings",
  async mount(b) {
    box = b;
    const r = await rpc("getConfig", { describe: true });
    if (box !== b) return;  // another view meanwhile
    fill(box, 
      el("h1", { id: "view-title" }, "Settings"),
      el("p", { class: "note" }, `The config file: ${r.file || "none yet (built-in defaults; saving creates it)"}.`),
      r.restartRequired.length ? el("p", { class: "banner-warn" }, `Waiting for a restart of mnigsd: ${r.restartRequired.join(", ")}`) : null,
      Object.keys(r.values).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((name) => section(name, r.values[name])));
    // The first section open; the rest a click (or Enter) away.
    const first = box.querySelector("details");
    if (first) first.open = true;
  },
  unmount() { box = null; },
};
