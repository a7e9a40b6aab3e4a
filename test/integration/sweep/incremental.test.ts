/**
 * Incremental sweeps through Graph's /delta against the sandbox: the first sweep enumerates and
 * stores a delta link; the next reads only the objects changed since; an expired link starts a
 * new enumeration; a full sweep still runs once its interval has passed.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { GraphEdge } from "../../../shared/azure/graph.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { tableClient } from "../../../shared/azure/storage.js";
import { loadConfig } from "../../../shared/config.js";
import { policiesFrom } from "../../../shared/core/plan.js";
import { DeltaStore, SWEEP_DELTA_TABLE } from "../../../shared/azure/sweep-delta.js";
import { fanoutStorage, readSweepRun, runSweepPage, startSweepRun } from "../../../shared/sweep/fanout.js";
import { runSweep, type SweepDeps } from "../../../shared/sweep/run.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const DAY = 86_400_000;

describe("incremental sweep through /delta", () => {
  const sb = useSandbox({ seed: "scale:3000", azurite: true });

  function deps(): SweepDeps & { delta: DeltaStore } {
    const h = sb();
    useSandboxIdentity(h);
    const config = loadConfig(h.env);
    const credential = new ManagedIdentityCredential({ clientId: h.ctx.managedIdentity.clientId });
    const graph = new GraphEdge(config.graphBaseUrl);
    return {
      graph,
      client: graph.client(credential),
      tenantId: h.urls.tenantId,
      vaults: [new VaultEdge(h.urls.vaultUrl, credential)],
      selfIds: [h.ctx.managedIdentity.objectId],
      policy: policiesFrom(config).sweep,
      audit: new MemoryAuditSink(),
      now: () => h.ctx.clock.now(),
      dryRun: true,
      delta: new DeltaStore(tableClient({ connectionString: h.env.AzureWebJobsStorage }, SWEEP_DELTA_TABLE)),
      fullEveryMs: DAY,
    };
  }

  it("reads everything once, then only what changed", async () => {
    const h = sb();
    const d = deps();
    const first = await runSweep(d);
    expect(first.kinds).toEqual({ applications: "fullDelta", servicePrincipals: "fullDelta" });
    expect(first.targets).toBeGreaterThan(3000);
    const firstPages = first.pages;
    expect(firstPages).toBeLessThanOrEqual(Math.ceil(first.targets / 999) + 2);

    // Change 1% of the applications: each gets an expired client secret.
    const t = h.urls.tenantId;
    const apps = [...Array(3000).keys()]
      .filter((i) => i % 100 === 7)
      .map((i) => `5ca1e000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`);
    for (const id of apps) {
      h.ctx.directory.addPasswordCredential(t, id, {
        startDateTime: new Date(h.ctx.clock.now() - 400 * DAY).toISOString(),
        endDateTime: new Date(h.ctx.clock.now() - 10 * DAY).toISOString(),
      });
    }
    h.requestCounts.reset();
    const second = await runSweep(deps());
    expect(second.kinds).toEqual({ applications: "incremental", servicePrincipals: "incremental" });
    // Each changed object comes from /delta with its id and its changed passwordCredentials only;
    // its credentials are read by id before it is planned (a missing collection is not empty).
    expect(second.targets).toBe(apps.length);
    expect(second.pages).toBe(2);
    // The reads by id go 20 to a $batch: the two /delta pages and ceil(30 / 20) batches, not 30 reads.
    expect(h.requestCounts.get().graph).toBe(2 + Math.ceil(apps.length / 20));
    expect(second.findings.CredentialExpired ?? 0).toBeGreaterThanOrEqual(apps.length);
  });

  it("the Functions path (runSweepPage) also reads partial /delta objects by id before planning", async () => {
    const h = sb();
    const d = deps();
    await runSweep(d);
    const t = h.urls.tenantId;
    const changed = [11, 22, 33].map((i) => `5ca1e000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`);
    for (const id of changed) {
      h.ctx.directory.addPasswordCredential(t, id, {
        startDateTime: new Date(h.ctx.clock.now() - 400 * DAY).toISOString(),
        endDateTime: new Date(h.ctx.clock.now() - 10 * DAY).toISOString(),
      });
    }
    const st = fanoutStorage({ connectionString: h.env.AzureWebJobsStorage });
    const runId = `partial-${Date.now()}`;
    await startSweepRun(st, {
      runId,
      maxRemovals: 0,
      now: h.ctx.clock.now(),
      dryRun: true,
      fullEveryMs: DAY,
    });
    const link = (await st.delta.get("applications")).deltaLink!;
    const r = await runSweepPage(st, d, {
      runId,
      collection: "applications",
      page: 1,
      url: link,
      kind: "incremental",
    });
    expect(r.status).toBe("done");
    if (r.status !== "done") return;
    expect(r.summary.targets).toBe(changed.length);
    expect(r.summary.findings.CredentialExpired ?? 0).toBeGreaterThanOrEqual(changed.length);
  });

  it("a delta link Graph no longer honours starts a new enumeration", async () => {
    const d = deps();
    await d.delta.setLink(
      "applications",
      `${sb().urls.graphBaseUrl}v1.0/applications/delta?$deltatoken=bm90LWEtdG9rZW4`,
    );
    const s = await runSweep(d);
    expect(s.kinds.applications).toBe("fullDelta");
    expect((await d.delta.get("applications")).deltaLink).toMatch(/\$deltatoken=/);
  });

  it("a delta link older than 7 days (400 syncStateNotFound) starts a new enumeration", async () => {
    const d = { ...deps(), fullEveryMs: 30 * DAY };
    await runSweep(d);
    const stored = (await d.delta.get("applications")).deltaLink;
    expect(stored).toMatch(/\$deltatoken=/);
    await sb().ctx.clock.advance(7 * DAY + 60_000);
    const s = await runSweep(d);
    expect(s.kinds.applications).toBe("fullDelta");
    expect(s.targets).toBeGreaterThan(3000);
    expect((await d.delta.get("applications")).deltaLink).not.toBe(stored);
  });

  it("after the full-sweep interval the plain list is read in full", async () => {
    await sb().ctx.clock.advance(DAY + 1000);
    const s = await runSweep(deps());
    expect(s.kinds).toEqual({ applications: "full", servicePrincipals: "full" });
    expect(s.targets).toBeGreaterThan(3000);
  });
  it("the Functions path: a delta link older than 7 days starts a new enumeration of that collection", async () => {
    const h = sb();
    const d = deps();
    await runSweep({ ...d, fullEveryMs: 30 * DAY });
    const st = fanoutStorage({ connectionString: h.env.AzureWebJobsStorage });
    const link = (await st.delta.get("servicePrincipals")).deltaLink!;
    const runId = `expired-${Date.now()}`;
    await startSweepRun(st, {
      runId,
      maxRemovals: 0,
      now: h.ctx.clock.now(),
      dryRun: true,
      fullEveryMs: 30 * DAY,
    });
    await h.ctx.clock.advance(7 * DAY + 60_000);
    const r = await runSweepPage(st, d, {
      runId,
      collection: "servicePrincipals",
      page: 1,
      url: link,
      kind: "incremental",
    });
    expect(r).toEqual({ status: "skipped", reason: "deltaExpired" });
    expect((await st.delta.get("servicePrincipals")).deltaLink).toBeFalsy();
    const run = (await readSweepRun(st, runId))!;
    expect(run.pagesEnqueued).toBe(3); // the two first pages, and the new enumeration
  });
});
