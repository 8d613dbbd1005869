// The subscriber's connection every 5 s while the UI is open, for the
// charts of the last 15 minutes: round trip, loss and throughput (from the
// tunnel's byte counters).
import { rpc } from "./rpc.js";
import { now } from "./ui.js";

export const samples = [];  // {t, rtt, loss, down, up, gateway}
let last = null;
export let latest = null;  // the last listSessions answer

export async function sample() {
  const r = await rpc("listSessions");
  latest = r;
  const sub = r.subscriber;
  const c = sub.connection;
  const t = now();
  const s = { t, gateway: c ? c.gatewayAddress : "" };
  if (c && sub.health) {
    s.rtt = sub.health.rttMs ? sub.health.rttMs.median : undefined;
    s.loss = sub.health.loss;
  }
  const traffic = c && c.traffic && c.traffic.counted ? c.traffic : null;
  if (traffic && last && last.gateway === s.gateway && last.bytesIn !== undefined && t > last.t) {
    s.down = Math.max(0, (traffic.bytesIn - last.bytesIn) * 8 / (t - last.t));
    s.up = Math.max(0, (traffic.bytesOut - last.bytesOut) * 8 / (t - last.t));
  }
  if (traffic) { s.bytesIn = traffic.bytesIn; s.bytesOut = traffic.bytesOut; }
  samples.push(s);
  while (samples.length && samples[0].t < t - 900) samples.shift();
  last = s;
  return r;
}
