/**
 * One sweep in its own process, for the SIGKILL cases of the fault matrix: wired as the
 * composition root wires it (remove mode, the removal cap from the settings), it kills its own
 * process when it reaches FAULT_BOUNDARY (`between-pages`: the second page; `before-removal` /
 * `after-removal`: the second removal). Prints the summary as a JSON line when it finishes.
 */
import { buildRollover, sweepDepsFor } from "../../shared/app.js";
import { runSweep } from "../../shared/sweep/run.js";
import { hookWrites } from "./graph-hook.js";

const env = process.env;
const boundary = env.FAULT_BOUNDARY!;
const offsetMs = Number(env.FAULT_CLOCK_OFFSET_MS ?? "0");
const r = buildRollover(env, { requireAudit: true });
await r.clock.sync();
const writer = r.audit!.writer({
  runId: env.FAULT_WRITER!,
  trigger: "timer",
  actor: r.config.identityObjectId ?? "rollover",
  writer: env.FAULT_WRITER!,
});
let pages = 0;
let writes = 0;
const deps = sweepDepsFor(r, {
  audit: writer,
  now: () => Date.now() + offsetMs,
  dryRun: false,
  onPage: () => {
    pages += 1;
    if (boundary === "between-pages" && pages === 2) process.kill(process.pid, "SIGKILL");
  },
});
deps.pageSize = Number(env.FAULT_PAGE_SIZE ?? "5");
deps.client = hookWrites(deps.client, (b) => {
  if (b === "before-removal") writes += 1;
  if (b === boundary && writes === 2) process.kill(process.pid, "SIGKILL");
});
const summary = await runSweep(deps);
await writer.close();
process.stdout.write(`${JSON.stringify({ removed: summary.removed, deferred: summary.deferred })}\n`);
