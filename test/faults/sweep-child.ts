/**
 * One sweep in its own process, for the SIGKILL cases of the fault matrix: wired as the
 * composition root wires it (remove mode, managed mode, the removal cap from the settings), on
 * the path FAULT_PATH names (`runSweep`, or a fanned-out run through `runSweepPage`), it kills its
 * own process when it reaches FAULT_BOUNDARY (`between-pages`: the second page; `before-removal` /
 * `after-removal`: the second removal). Prints the summary as a JSON line when it finishes.
 */
import { buildRollover, sweepDepsFor } from "../../shared/app.js";
import { fanoutStorage } from "../../shared/sweep/fanout.js";
import { runSweep, type SweepDeps } from "../../shared/sweep/run.js";
import { drainRun, hookSweepWrites, PAGE } from "./sweep-drive.js";

const env = process.env;
const boundary = env.FAULT_BOUNDARY!;
const offsetMs = Number(env.FAULT_CLOCK_OFFSET_MS ?? "0");
const now = () => Date.now() + offsetMs;
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
const depsFor = (): SweepDeps => {
  const deps = sweepDepsFor(r, {
    audit: writer,
    now,
    dryRun: false,
    onPage: () => {
      pages += 1;
      if (boundary === "between-pages" && pages === 2) process.kill(process.pid, "SIGKILL");
    },
  });
  deps.pageSize = PAGE;
  hookSweepWrites(deps, (b) => {
    if (b === "before-removal") writes += 1;
    if (b === boundary && writes === 2) process.kill(process.pid, "SIGKILL");
  });
  return deps;
};
const removed =
  env.FAULT_PATH === "runSweepPage"
    ? (await drainRun(fanoutStorage(r.storage), depsFor, { now: now() })).removed
    : (await runSweep(depsFor())).removed;
await writer.close();
process.stdout.write(`${JSON.stringify({ removed })}\n`);
