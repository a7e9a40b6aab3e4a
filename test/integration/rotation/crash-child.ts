/**
 * A rotation run in its own process, for crash tests: builds Rollover from the environment
 * (as the CLI does), follows the sandbox's virtual clock, and kills itself with SIGKILL at the
 * step boundary named by ROLLOVER_TEST_CRASH_AT.
 */
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { buildRollover, engineFor } from "../../../shared/app.js";

const crashAt = process.env.ROLLOVER_TEST_CRASH_AT;
const certificate = process.env.ROLLOVER_TEST_CERTIFICATE!;
const control = process.env.ROLLOVER_SANDBOX_CONTROL_URL!;
const clock = (await (await fetch(`${control}/clock`)).json()) as { offsetMs: number };
const r = buildRollover(process.env);
const vaultName = [...r.vaults.keys()][0]!;
const engine = engineFor(r, {
  audit: new MemoryAuditSink(),
  now: () => Date.now() + clock.offsetMs,
  onBoundary: (b) => {
    if (b === crashAt) process.kill(process.pid, "SIGKILL");
  },
});
const out = await engine.reconcile({ vaultName, certificateName: certificate });
process.stdout.write(`${JSON.stringify({ result: out.result, steps: out.steps.map((s) => s.kind) })}\n`);
