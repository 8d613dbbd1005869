// Follows mnigsd's events by long polling the `events` method: each event
// once, in order, as it happens. When events were dropped, or mnigsd
// restarted (its run changed, and its seqs with it), `onMissed` tells the
// views to read everything afresh.
import { rpc } from "./rpc.js";

export function followEvents(onEvent, { onMissed, onTime, isPaused }) {
  let after = 0;
  let run = "";
  let first = true;
  let delay = 1000;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    for (;;) {
      if (isPaused()) {
        await sleep(1000);
        continue;
      }
      const asked = Date.now();
      try {
        const r = await rpc("events", { after, wait: first ? 0 : 25 });
        onTime(r.time);
        if (run && r.run !== run) {
          // Another mnigsd: its seqs mean other events. Start over.
          run = r.run;
          after = 0;
          first = true;
          onMissed();
          continue;
        }
        run = r.run;
        if (r.missed && !first) onMissed();
        for (const e of r.events) onEvent(e, first);
        after = r.next;
        delay = 1000;
        // An empty answer at once (the daemon made room for another
        // page's call): no hurry.
        if (!first && !r.events.length && Date.now() - asked < 1000) await sleep(2000);
        first = false;
      } catch (e) {
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
      }
    }
  })();
}
