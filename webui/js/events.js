// Follows mnigsd's events by long polling the `events` method: each event
// once, in order, as it happens. After mnigsd was away (or restarted, or
// events were dropped), `missed` tells the views to read everything afresh.
import { rpc } from "./rpc.js";

export function followEvents(onEvent, { onMissed, isPaused }) {
  let after = 0;
  let first = true;
  let stopped = false;
  let delay = 1000;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    while (!stopped) {
      if (isPaused()) {
        await sleep(1000);
        continue;
      }
      try {
        const r = await rpc("events", { after, wait: first ? 0 : 25 });
        if (r.missed && !first) onMissed();
        for (const e of r.events) onEvent(e, first);
        after = r.next;
        first = false;
        delay = 1000;
      } catch (e) {
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
      }
    }
  })();
  return () => { stopped = true; };
}
