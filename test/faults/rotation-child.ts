/**
 * One rotation run in its own process, for the SIGKILL cases of the fault matrix: the engine is
 * wired the way the composition root wires it, and kills its own process (SIGKILL: no cleanup,
 * no flush) when it reaches the boundary in FAULT_BOUNDARY. Its clock is the sandbox's virtual
 * clock. Prints each boundary it reaches, then the outcome, as JSON lines.
 *
 *   node --import tsx test/faults/rotation-child.ts   (env: the sandbox's, plus FAULT_* below)
 */
import { buildRollover } from "../../shared/app.js";
import { blobService, LEASE_CONTAINER, LeaseManager } from "../../shared/azure/storage.js";
import { type Boundary, RotationEngine } from "../../shared/rotation/engine.js";

const env = process.env;
const boundary = env.FAULT_BOUNDARY as Boundary;
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
const engine = new RotationEngine({
  vaults: r.vaults,
  graph: r.graph,
  rollover: { credential: r.credential, tenantId: r.config.tenantId!, selfIds: r.selfIds },
  authorityHost: r.config.authorityHost,
  state: r.state,
  // The shortest lease Azure Storage grants (15 s), so the run after a kill waits less.
  leases: new LeaseManager(blobService(r.storage).getContainerClient(LEASE_CONTAINER), 15),
  audit: writer,
  policy: r.policies.binding,
  verifyTimeoutMs: 20_000,
  renewWaitMs: 20_000,
  now,
  onBoundary: (b) => {
    process.stdout.write(`${JSON.stringify({ boundary: b })}\n`);
    if (b === boundary) process.kill(process.pid, "SIGKILL");
  },
});
const out = await engine.reconcile({ vaultName: env.FAULT_VAULT!, certificateName: env.FAULT_CERT! });
await writer.close();
process.stdout.write(
  `${JSON.stringify({ result: out.result, reason: out.reason, steps: out.steps.map((s) => s.kind) })}\n`,
);
