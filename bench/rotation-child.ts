/**
 * Reconcile of every binding in its own process (peak memory is Rollover's alone), wired by the
 * composition root with the configured concurrency. Audit to a counting sink. Prints one JSON line.
 */
import type { AuditSink } from "../shared/audit/events.js";
import { buildRollover, engineFor } from "../shared/app.js";
import { listBindingRefs, reconcileAll } from "../shared/rotation/reconcile.js";

const offsetMs = Number(process.env.BENCH_CLOCK_OFFSET_MS ?? "0");
let events = 0;
const audit: AuditSink = {
  emit() {
    events += 1;
  },
};
const r = buildRollover(process.env);
await r.clock.sync();
const engine = engineFor(r, { audit, now: () => Date.now() + offsetMs });
const t0 = performance.now();
const refs = await listBindingRefs(r.vaults.values());
const out = await reconcileAll(engine, refs, { concurrency: r.config.concurrency });
const wallMs = performance.now() - t0;
process.stdout.write(
  `${JSON.stringify({ wallMs, maxRssKiB: process.resourceUsage().maxRSS, bindings: refs.length, counts: out.counts, concurrency: r.config.concurrency, events })}\n`,
);
