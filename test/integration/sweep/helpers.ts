/**
 * What the sweep's sandbox tests share: a reseeded tenant with the empty seed's grants
 * (Application.Read.All only) and fresh sweep tables, one sweep wired as the CLI and the timer
 * wire it on the sandbox's clock, and the Graph writes the sandbox counted.
 */
import type { RestError } from "@azure/data-tables";
import { ManagedIdentityCredential } from "@azure/identity";
import { GraphEdge } from "../../../shared/azure/graph.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { loadConfig } from "../../../shared/config.js";
import { policiesFrom } from "../../../shared/core/plan.js";
import type { SandboxHandle } from "../../../sandbox/index.js";
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { tableClient } from "../../../shared/azure/storage.js";
import { buildRollover, sweepDepsFor } from "../../../shared/app.js";
import { SWEEP_BUDGET_TABLE } from "../../../shared/azure/sweep-budget.js";
import { SWEEP_JOURNAL_TABLE } from "../../../shared/azure/sweep-journal.js";
import { runSweep, type SweepDeps } from "../../../shared/sweep/run.js";
import { SWEEP_SEEN_TABLE } from "../../../shared/azure/sweep-seen.js";
import { makeCert } from "../../helpers/certs.js";
import { useSandboxIdentity } from "../../helpers/engine.js";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
const REMOVE = { ROLLOVER_SWEEP_MODE: "remove", ROLLOVER_GRACE_HOURS: "1" };

/** Reseeds `empty` (Application.Read.All only) and drops the sweep's tables. */
export async function freshTenant(h: SandboxHandle): Promise<void> {
  const res = await fetch(`${h.urls.controlUrl}/seed`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ seed: "empty" }),
  });
  if (!res.ok) throw new Error(`reseed failed: ${res.status}`);
  const storage = { connectionString: h.env.AzureWebJobsStorage };
  for (const name of [SWEEP_BUDGET_TABLE, SWEEP_SEEN_TABLE, SWEEP_JOURNAL_TABLE]) {
    await tableClient(storage, name)
      .deleteTable()
      .catch((e: unknown) => {
        if ((e as RestError).statusCode !== 404) throw e;
      });
  }
  useSandboxIdentity(h);
}

/**
 * Sweep dependencies built by hand from the sandbox's env (no storage: no journal, first sight
 * or budget), as Rollover's managed identity, on the sandbox's clock.
 */
export function sandboxSweepDeps(
  h: SandboxHandle,
  settings: Record<string, string>,
): { deps: SweepDeps; audit: MemoryAuditSink } {
  useSandboxIdentity(h);
  const config = loadConfig({ ...h.env, ...settings });
  const credential = new ManagedIdentityCredential({ clientId: h.ctx.managedIdentity.clientId });
  const graph = new GraphEdge(config.graphBaseUrl);
  const audit = new MemoryAuditSink();
  return {
    audit,
    deps: {
      graph,
      client: graph.client(credential),
      tenantId: h.urls.tenantId,
      vaults: [new VaultEdge(h.urls.vaultUrl, credential)],
      selfIds: [h.ctx.managedIdentity.objectId, h.ctx.managedIdentity.clientId],
      policy: policiesFrom(config).sweep,
      audit,
      now: () => h.ctx.clock.now(),
      dryRun: false,
    },
  };
}

/** One sweep in remove mode (grace 1 h) as the CLI and the timer wire it, on the sandbox's clock. */
export async function sweep(
  h: SandboxHandle,
  settings: Record<string, string> = {},
  tweak: (d: SweepDeps) => void = () => {},
) {
  const r = buildRollover({ ...h.env, ...REMOVE, ...settings });
  const audit = new MemoryAuditSink();
  const d = sweepDepsFor(r, { audit, now: () => h.ctx.clock.now(), dryRun: false });
  tweak(d);
  const s = await runSweep(d);
  return { s, audit };
}

export function graphWrites(h: SandboxHandle): number {
  return h.requestCounts.get()["graph:write"] ?? 0;
}

export function keyIds(h: SandboxHandle, id: string): string[] {
  return h.ctx.directory.get(h.urls.tenantId, id)!.keyCredentials.map((k) => k.keyId);
}

export function expiredCert() {
  return makeCert({
    notBefore: new Date(Date.now() - 400 * 86_400_000),
    notAfter: new Date(Date.now() - 30 * 86_400_000),
  });
}

/** An application with a valid and an expired client secret. */
export function appWithExpiredSecret(h: SandboxHandle, name: string) {
  const t = h.urls.tenantId;
  const app = h.ctx.directory.createApplication(t, { displayName: name });
  const now = h.ctx.clock.now();
  h.ctx.directory.addPasswordCredential(t, app.id, { endDateTime: new Date(now + 300 * DAY).toISOString() });
  const expired = h.ctx.directory.addPasswordCredential(t, app.id, {
    startDateTime: new Date(now - 400 * DAY).toISOString(),
    endDateTime: new Date(now - 30 * DAY).toISOString(),
  });
  return { app, expired };
}
