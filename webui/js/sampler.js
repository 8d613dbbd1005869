// The subscriber's connection for the charts of the last 15 minutes: round
// trip, loss and throughput (from the tunnel's byte counters). The daemon
// keeps them (connectionHistory, every 5 s), so a page opened now shows
// what came before; the page adds its own sample at each refresh.
import { rpc } from "./rpc.js";
import { now } from "./ui.js";

export const samples = [];  // {t, gateway, rtt, loss, down, up, bytesIn, bytesOut}
export let latest = null;  // the last listSessions answer

function add(s) {
  const last = samples[samples.length - 1];
  if (last && s.t <= last.t) return;
  if (last && last.gateway === s.gateway && last.bytesIn !== undefined && s.bytesIn !== undefined) {
    s.down = Math.max(0, ((s.bytesIn - last.bytesIn) * 8) / (s.t - last.t));
    s.up = Math.max(0, ((s.bytesOut - last.bytesOut) * 8) / (s.t - last.t));
  }
  samples.push(s);
  while (samples.length && samples[0].t < s.t - 900) samples.shift();
}

// What the daemon kept before this page opened.
export async function loadHistory() {
  const r = await rpc("connectionHistory");
  samples.length = 0;
  for (const h of r.samples)
    add({ t: h.time, gateway: h.gateway, rtt: h.rttMs, loss: h.loss, bytesIn: h.bytesIn, bytesOut: h.bytesOut });
}

export async function sample() {
  const r = await rpc("listSessions");
  latest = r;
  const sub = r.subscriber;
  const c = sub.connection;
  const s = { t: now(), gateway: c ? c.gatewayAddress : "" };
  if (c && sub.health) {
    s.rtt = sub.health.rttMs ? sub.health.rttMs.median : undefined;
    s.loss = sub.health.loss;
  }
  if (c && c.traffic && c.traffic.counted) {
    s.bytesIn = c.traffic.bytesIn;
    s.bytesOut = c.traffic.bytesOut;
  }
  add(s);
  return r;
}
