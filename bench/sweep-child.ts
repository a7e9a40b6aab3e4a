/**
 * One sweep in its own process, so its peak memory is Rollover's alone (the sandbox runs in the
 * benchmark runner). Wired by the composition root; report mode (no removals); an audit sink that
 * counts events and keeps none, so memory is the sweep's. Prints one JSON line.
 *
 * env: the sandbox's, plus BENCH_INCREMENTAL=1 for a sweep through /delta (links kept in Azurite).
 */
import type { AuditEvent, AuditSink } from "../shared/audit/events.js";
import { buildRollover, sweepDepsFor } from "../shared/app.js";
import { runSweep } from "../shared/sweep/run.js";

const offsetMs = Number(process.env.BENCH_CLOCK_OFFSET_MS ?? "0");
let events = 0;
const audit: AuditSink = {
  emit(_e: AuditEvent) {
    events += 1;
  },
};
const r = buildRollover(process.env);
await r.clock.sync();
const targets: Record<string, number> = {};
const deps = sweepDepsFor(r, {
  audit,
  now: () => Date.now() + offsetMs,
  dryRun: true,
  incremental: process.env.BENCH_INCREMENTAL === "1",
  onPage: (p) => {
    targets[p.collection] = (targets[p.collection] ?? 0) + p.targets;
  },
});
const t0 = performance.now();
const summary = await runSweep(deps);
const wallMs = performance.now() - t0;
process.stdout.write(
  `${JSON.stringify({ wallMs, maxRssKiB: process.resourceUsage().maxRSS, pages: summary.pages, targets, kinds: summary.kinds, events })}\n`,
);
