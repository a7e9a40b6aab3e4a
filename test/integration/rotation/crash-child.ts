/**
 * A rotation run in its own process, for crash tests: builds Rollover from the environment
 * (as the CLI does), follows the sandbox's virtual clock, and kills itself with SIGKILL at the
 * step boundary named by ROLLOVER_TEST_CRASH_AT.
 */
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { buildRollover, engineFor } from "../../../shared/app.js";

const crashAt = process.env.ROLLOVER_TEST_CRASH_AT;
const certificate = process.env.ROLLOVER_TEST_CERTIFICATE!;
const r = buildRollover(process.env);
// The sandbox's clock (ROLLOVER_SANDBOX_CONTROL_URL), as every Rollover process reads it.
await r.clock.sync();
const vaultName = [...r.vaults.keys()][0]!;
const engine = engineFor(r, {
  audit: new MemoryAuditSink(),
  onBoundary: (b) => {
    if (b === crashAt) process.kill(process.pid, "SIGKILL");
  },
});
const out = await engine.reconcile({ vaultName, certificateName: certificate });
process.stdout.write(`${JSON.stringify({ result: out.result, steps: out.steps.map((s) => s.kind) })}\n`);
