// Events: what mnigsd did lately (scans, switches, failures, changes), as
// they come.
import { el, Table, clock, fill } from "../ui.js";
import { state } from "../state.js";

function summary(e) {
  const d = e.data;
  if (d === null || d === undefined) return "";
  if (typeof d !== "object") return String(d);
  const parts = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || typeof v === "object") continue;
    parts.push(`${k}: ${v}`);
    if (parts.length >= 8) break;
  }
  return parts.join(", ");
}

let table = null;
export default {
  title: "Events",
  mount(box) {
    table = new Table([
      { key: "seq", label: "#", value: (e) => e.seq },
      { key: "time", label: "Time", value: (e) => e.time, cell: (e) => clock(e.time) },
      { key: "topic", label: "Event", value: (e) => e.topic },
      { key: "data", label: "Details", value: (e) => summary(e) },
    ], { empty: "No events since mnigsd started.", label: "events" });
    table.sortKey = "seq";
    table.sortDir = -1;
    fill(box, el("h1", { id: "view-title" }, "Events"),
      el("p", { class: "note" }, "The last events of this node, newest first, by the node's clock."), table.element);
    table.set(state.log.slice());
  },
  onEvent() { if (table) table.set(state.log.slice()); },
  unmount() { table = null; },
};
