/**
 * The sweep fanned out over the queue: on `scale:10000` the reconcile timer enqueues the first
 * page of applications and of service principals, and each sweepPage invocation enqueues the
 * next link (pages of 999). Two serve instances poll the same queue; the run's removal budget in
 * Table storage holds the cap across both: exactly the cap is removed, the rest is reported as
 * deferred.
 */
import { describe, expect, it } from "vitest";
import { scaleObjectId } from "../../sandbox/seeds.js";
import { fanoutStorage, isRunComplete, readSweepRun } from "../../shared/sweep/fanout.js";
import { useSandbox } from "../helpers/sandbox.js";
import { auditRecords, until, useServe } from "./serve-helpers.js";

const CAP = 10;
const N = 10_000;
const settings = {
  ROLLOVER_SWEEP_MODE: "remove",
  ROLLOVER_MAX_REMOVALS_PER_RUN: String(CAP),
  ROLLOVER_MANAGED_MODE: "true",
  ROLLOVER_GRACE_HOURS: "1",
  // The second run, two hours on, reads the tenant in full again (not only what changed).
  ROLLOVER_FULL_SWEEP_HOURS: "1",
};
const sb = useSandbox({ seed: `scale:${N}`, azurite: true });
const pagesBy: Record<string, string[]> = { a: [], b: [] };
const pageLine = /^\[sweepPage\] sweep \S+ (applications|servicePrincipals) page (\d+):/;
const serveA = useServe(sb, { settings, log: (l) => pageLine.test(l) && pagesBy.a!.push(l) });
const serveB = useServe(sb, { settings, log: (l) => pageLine.test(l) && pagesBy.b!.push(l) });

describe("sweep fan-out over the queue", () => {
  it("pages the tenant at 999 over the queue, across instances, and removes exactly the cap", {
    timeout: 240_000,
  }, async () => {
    const h = sb();
    const a = serveA();
    const b = serveB();
    // Rollover's identity reads every application and owns the first few hundred, so it may
    // remove their expired keys (Application.ReadWrite.OwnedBy).
    const mi = h.ctx.managedIdentity.objectId;
    h.ctx.directory.grantAppRole(h.urls.tenantId, mi, "Application.Read.All");
    h.ctx.directory.grantAppRole(h.urls.tenantId, mi, "Application.ReadWrite.OwnedBy");
    for (let i = 0; i < 300; i++) h.ctx.directory.addOwner(h.urls.tenantId, scaleObjectId(i), mi);
    const st = fanoutStorage({ connectionString: h.env.AzureWebJobsStorage });
    const finished = (id: string) =>
      until(
        async () => {
          const r = await readSweepRun(st, id);
          return r && isRunComplete(r) ? r : undefined;
        },
        "the sweep run to finish",
        120_000,
      );
    // The first run sees every credential for the first time: the grace window starts there.
    const first = (await a.fireTimer("reconcile")) as { sweepRunId: string };
    expect((await finished(first.sweepRunId)).removed).toBe(0);
    await Promise.all([a.idle(), b.idle()]);
    for (const k of Object.keys(pagesBy)) pagesBy[k] = [];
    await h.ctx.clock.advance(2 * 3_600_000);
    const { sweepRunId } = (await a.fireTimer("reconcile")) as { sweepRunId: string };
    const run = await finished(sweepRunId);
    // applications: 10,000 → 11 pages; service principals: 10,000 + Rollover's identity → 11 pages
    const expectedPages = Math.ceil(N / 999) + Math.ceil((N + 1) / 999);
    expect(run.pagesEnqueued).toBe(expectedPages);
    expect(run.pagesDone).toBe(expectedPages);
    expect(run.targets).toBe(2 * N + 1);
    // A page is marked done before its handler logs its line: both instances must be idle first.
    await Promise.all([a.idle(), b.idle()]);
    // every page was one queue message handled by one of the two instances
    const handled = [...pagesBy.a!, ...pagesBy.b!].map((l) => pageLine.exec(l)!.slice(1, 3).join(":"));
    expect(handled).toHaveLength(expectedPages);
    expect(new Set(handled).size).toBe(expectedPages);
    // the cap held across instances: exactly CAP removals, the rest deferred and reported
    expect(run.removed).toBe(CAP);
    expect(run.reserved).toBe(CAP);
    expect(run.deferred).toBeGreaterThan(0);
    // Rollover's identity here lacks the optional AuditLog.Read.All and Policy.Read.All: one
    // finding each for the whole run, however many pages and instances.
    expect(run.findings.SignInDataUnavailable).toBe(1);
    expect(run.findings.PolicyDataUnavailable).toBe(1);
    // Both instances have finished (and flushed their audit records): count them.
    const records = auditRecords(h).filter((r) => r.RunId === sweepRunId);
    expect(records.filter((r) => r.Action === "sweepRemoval" && r.Outcome === "succeeded")).toHaveLength(CAP);
    expect(
      records.filter((r) => r.Action === "sweepDeferred" && r.Reason === "GuardRemovalCap"),
    ).toHaveLength(run.deferred);
  });
});
