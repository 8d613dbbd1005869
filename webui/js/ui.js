// Small DOM helpers, formatting by the daemon's clock, a sortable and
// filterable table that stays quick with a thousand rows, and a line chart.

// el("td", {class: "x", onclick: f}, "text", node...): an element.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k in e && k !== "list" && k !== "form") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

// Replaces what `parent` holds; arrays are flattened, null and false left out.
export function fill(parent, ...children) {
  parent.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false)
    .map((c) => (c instanceof Node ? c : String(c))));
  return parent;
}

// A label/value list of [label, value] rows; false rows are left out.
export function facts(rows) {
  return el("dl", { class: "facts" }, rows.filter(Boolean).flatMap(([k, v]) => [el("dt", null, k), el("dd", null, v)]));
}

// The daemon's clock: every answer that tells its time moves the offset.
let offset = 0;
export function daemonTime(t) {
  if (typeof t === "number") offset = t - Date.now() / 1000;
}
export const now = () => Date.now() / 1000 + offset;

export function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
export const ago = (t) => (t ? `${duration(now() - t)} ago` : "–");
export const until = (t) => (t ? (t > now() ? `in ${duration(t - now())}` : "now") : "–");
export function clock(t) {
  if (!t) return "–";
  const d = new Date(t * 1000);
  return d.toLocaleString(undefined, { hour12: false });
}
export function bytes(n) {
  if (typeof n !== "number") return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}
export function rate(bitsPerSecond) {
  if (typeof bitsPerSecond !== "number") return "–";
  const m = bitsPerSecond / 1e6;
  return m >= 10 ? `${Math.round(m)} Mbit/s` : m >= 0.1 ? `${m.toFixed(1)} Mbit/s` : `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
}
export const ms = (v) => (typeof v === "number" ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : "–");
export const pct = (v) => (typeof v === "number" ? `${Math.round(v * 1000) / 10} %` : "–");

// An error shown next to what caused it; replaced by the next.
export function showError(where, err) {
  let box = where.querySelector(":scope > .error");
  if (!err) return box && box.remove();
  if (!box) where.append(box = el("p", { class: "error", role: "alert" }));
  box.textContent = err.message || String(err);
}

// Runs `fn` with the button disabled; an error goes next to the button.
export async function busy(button, fn) {
  button.disabled = true;
  const place = button.closest("td, form, .bar, section") || button.parentElement;
  showError(place, null);
  try {
    return await fn();
  } catch (e) {
    showError(place, e);
  } finally {
    button.disabled = false;
  }
}

// columns: [{key, label, value: row => sortable, cell: row => Node|string}].
// Shows at most `page` rows at a time; the rest a button away.
export class Table {
  constructor(columns, { empty = "Nothing yet.", page = 200, filter = true, label } = {}) {
    this.columns = columns;
    this.rows = [];
    this.sortKey = null;
    this.sortDir = 1;
    this.shown = page;
    this.page = page;
    this.filterText = "";
    this.empty = empty;
    this.body = el("tbody");
    this.count = el("span", { class: "count" });
    this.more = el("button", { type: "button", class: "more", hidden: true, onclick: () => { this.shown += this.page; this.render(); } }, "Show more");
    const head = el("tr", null, columns.map((c) => {
      const th = el("th", { scope: "col" });
      if (c.value) {
        th.append(el("button", { type: "button", class: "sort", onclick: () => this.sortBy(c.key) }, c.label));
        c.th = th;
      } else th.append(c.label);
      return th;
    }));
    const search = filter && el("input", {
      type: "search", placeholder: "Filter", "aria-label": `Filter ${label || "rows"}`,
      oninput: (e) => { this.filterText = e.target.value.toLowerCase(); this.shown = this.page; this.render(); },
    });
    this.element = el("div", { class: "table" },
      search || el("span"), this.count,
      el("div", { class: "scroll" }, el("table", { "aria-label": label }, el("thead", null, head), this.body)),
      this.more);
  }
  sortBy(key) {
    this.sortDir = this.sortKey === key ? -this.sortDir : 1;
    this.sortKey = key;
    for (const c of this.columns) if (c.th) c.th.setAttribute("aria-sort", c.key === key ? (this.sortDir > 0 ? "ascending" : "descending") : "none");
    this.render();
  }
  set(rows) {
    this.rows = rows;
    this.render();
  }
  render() {
    let rows = this.rows;
    if (this.filterText) {
      const f = this.filterText;
      rows = rows.filter((r) => this.columns.some((c) => c.value && String(c.value(r) ?? "").toLowerCase().includes(f)));
    }
    const col = this.columns.find((c) => c.key === this.sortKey);
    if (col) {
      const d = this.sortDir;
      rows = rows.map((r) => [col.value(r), r]).sort((a, b) => {
        const x = a[0], y = b[0];
        if (x === y) return 0;
        if (x === undefined || x === null || x === "") return 1;
        if (y === undefined || y === null || y === "") return -1;
        return (x < y ? -1 : 1) * d;
      }).map((p) => p[1]);
    }
    const frag = document.createDocumentFragment();
    for (const r of rows.slice(0, this.shown))
      frag.append(el("tr", null, this.columns.map((c) => el("td", { "data-label": c.label }, c.cell ? c.cell(r) : String(c.value(r) ?? "–")))));
    if (!rows.length) frag.append(el("tr", null, el("td", { colSpan: this.columns.length, class: "empty" }, this.filterText ? "No row matches the filter." : this.empty)));
    this.body.replaceChildren(frag);
    const n = (k) => `${k} ${k === 1 ? "row" : "rows"}`;
    this.count.textContent = rows.length === this.rows.length ? n(rows.length) : `${rows.length} of ${n(this.rows.length)}`;
    this.more.hidden = rows.length <= this.shown;
    this.more.textContent = `Show ${Math.min(this.page, rows.length - this.shown)} more of ${rows.length - this.shown}`;
  }
}

// A line chart of series [{label, cls, points: [[t, v]...]}] over `span`
// seconds up to now (daemon time), as SVG.
// `floor`: the least top of the scale (so that no loss is not drawn as 100 %).
export function chart(series, { span = 900, height = 120, unit = "", format = (v) => v, floor = 0 } = {}) {
  const NS = "http://www.w3.org/2000/svg";
  const w = 600, h = height, pad = 4;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const end = now(), start = end - span;
  let max = 0;
  for (const s of series) for (const [, v] of s.points) if (typeof v === "number") max = Math.max(max, v);
  max = Math.max(max, floor) || 1;
  const legend = [];
  for (const s of series) {
    const pts = s.points.filter(([t, v]) => t >= start && typeof v === "number")
      .map(([t, v]) => `${((t - start) / span * (w - 2 * pad) + pad).toFixed(1)},${(h - pad - v / max * (h - 2 * pad)).toFixed(1)}`);
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("class", s.cls || "");
    svg.append(line);
    const last = s.points.length ? s.points[s.points.length - 1][1] : undefined;
    legend.push(`${s.label} ${typeof last === "number" ? format(last) : "–"}`);
  }
  svg.setAttribute("aria-label", `last ${duration(span)}: ${legend.join(", ")}; top ${format(max)}${unit}`);
  return el("figure", { class: "chart" }, svg, el("figcaption", null, `${legend.join(" · ")} — top ${format(max)}${unit}, last ${duration(span)}`));
}
