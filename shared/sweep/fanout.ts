/**
 * The sweep fanned out over a Storage queue, one message a page, so the Functions platform
 * spreads a large tenant over instances.
 *
 * The reconcile timer starts a run: a run record (Table storage) holding the run's removal
 * budget and counters, and the first page of applications and of service principals on the
 * queue. Each `sweepPage` invocation reads its page from Graph, enqueues the next link (once:
 * a marker per page), then plans the page against the budget left and acts. The budget is taken
 * from the run record with ETag-conditional updates before anything is removed, so the cap holds
 * however many instances work on the run at once; a page that is delivered again never spends
 * more than what is left. Removals also draw from the budget every run shares (sweep-budget.ts), and
 * each page owns the removals it journals (sweep-journal.ts): it recovers only entries whose owner is
 * gone.
 */
import { randomUUID } from "node:crypto";
import type { QueueClient } from "@azure/storage-queue";
import { z } from "zod";
import { cached } from "../cache.js";
import { encodeMessage, queueClient, SWEEP_QUEUE } from "../azure/queue.js";
import { firstPageUrl, isExpiredDeltaToken, readTargetPage } from "../azure/graph.js";
import { createOnce, type StorageSettings, tableClient } from "../azure/storage.js";
import { SWEEP_RUNS_TABLE, type SweepRun, SweepRunStore } from "../azure/sweep-runs.js";
import type { TargetType } from "../core/model.js";
import { DeltaStore, SWEEP_DELTA_TABLE, type SweepCollection } from "../azure/sweep-delta.js";
import { sweepStart } from "./delta.js";
import { completeTargets } from "./complete.js";
import { recoverRemovals } from "./recover.js";
import {
  emptySummary,
  gatherBindings,
  type SweepBindings,
  type SweepDeps,
  type SweepSummary,
  sweepPage,
} from "./run.js";
import { gatherTenantFacts, type InsightReaders, recordRunFindings } from "./insight.js";
import type { InsightFacts } from "../core/insight.js";

const COLLECTIONS = {
  applications: "application",
  servicePrincipals: "servicePrincipal",
} as const satisfies Record<SweepCollection, TargetType>;

/** One queue message: a page of one collection in one run. */
export const sweepPageMessage = z.object({
  // The run's Table partition key: refused, not escaped, if Table storage would refuse it
  // (learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
  runId: z
    .string()
    .min(1)
    .max(100)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is refused
    .regex(/^[^/\\#?\u0000-\u001f\u007f-\u009f]+$/, "must not contain / \\ # ? or control characters"),
  collection: z.enum(["applications", "servicePrincipals"]),
  page: z.number().int().min(1),
  url: z.string().min(1).max(4096),
  /** How this collection is read in this run (delta.ts); plain pages of a full list by default. */
  kind: z.enum(["fullDelta", "full", "incremental"]).default("full"),
});
export type SweepPageMessage = z.infer<typeof sweepPageMessage>;

export interface FanoutStorage {
  runs: SweepRunStore;
  queue: QueueClient;
  delta: DeltaStore;
}

export function fanoutStorage(s: StorageSettings): FanoutStorage {
  return {
    runs: new SweepRunStore(tableClient(s, SWEEP_RUNS_TABLE)),
    queue: queueClient(s, SWEEP_QUEUE),
    delta: new DeltaStore(tableClient(s, SWEEP_DELTA_TABLE)),
  };
}

/** The run table and the queue, created once per process (a failed creation is tried again). */
async function ensure(st: FanoutStorage): Promise<void> {
  await Promise.all([st.runs.ready(), createOnce(st.queue, () => st.queue.createIfNotExists())]);
}

export async function readSweepRun(st: FanoutStorage, runId: string): Promise<SweepRun | undefined> {
  await ensure(st);
  return st.runs.read(runId);
}

/**
 * Starts a fanned-out sweep: the run record, then the first page of each collection on the queue.
 * Returns the run id.
 */
export async function startSweepRun(
  st: FanoutStorage,
  opts: {
    runId: string;
    maxRemovals: number;
    now: number;
    dryRun: boolean;
    pageSize?: number;
    fullEveryMs?: number;
  },
): Promise<string> {
  await ensure(st);
  const firsts: SweepPageMessage[] = [];
  for (const collection of Object.keys(COLLECTIONS) as SweepCollection[]) {
    const start = sweepStart(
      collection,
      await st.delta.get(collection),
      opts.now,
      opts.fullEveryMs ?? 86_400_000,
      opts.pageSize,
    );
    firsts.push({ runId: opts.runId, collection, page: 1, url: start.url, kind: start.kind });
  }
  await st.runs.create({
    runId: opts.runId,
    maxRemovals: opts.maxRemovals,
    pagesEnqueued: firsts.length,
    startedAt: opts.now,
    dryRun: opts.dryRun,
  });
  for (const m of firsts) {
    await st.runs.markEnqueued(m);
    await st.queue.sendMessage(encodeMessage(m));
  }
  return opts.runId;
}

const bindingCache = new Map<string, Promise<SweepBindings>>();
/** Bindings are gathered once per run in each process (Key Vault is read, not Graph). */
function bindingsFor(runId: string, deps: SweepDeps): Promise<SweepBindings> {
  return cached(bindingCache, runId, () => gatherBindings(deps.vaults, deps.state), 8);
}

const factsCache = new Map<string, Promise<InsightFacts>>();

/** Sign-ins and app management policies, read once per run on each instance. */
function tenantFactsFor(runId: string, readers: InsightReaders): Promise<InsightFacts> {
  return cached(factsCache, runId, () => gatherTenantFacts(readers), 8);
}

function add(a: Partial<Record<string, number>>, b: Partial<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const src of [a, b]) for (const [k, v] of Object.entries(src)) out[k] = (out[k] ?? 0) + (v ?? 0);
  return out;
}

export type PageResult =
  | { status: "done"; summary: SweepSummary; run: SweepRun; nextEnqueued: boolean }
  | { status: "skipped"; reason: "unknownRun" | "alreadyDone" | "deltaExpired" };

/** One page of a fanned-out sweep (the `sweepPage` function). */
export async function runSweepPage(
  st: FanoutStorage,
  pageDeps: SweepDeps,
  m: SweepPageMessage,
): Promise<PageResult> {
  await ensure(st);
  const run = await readSweepRun(st, m.runId);
  if (!run) return { status: "skipped", reason: "unknownRun" };
  if (await st.runs.isDone(m)) return { status: "skipped", reason: "alreadyDone" };
  // This page owns the removals it journals; recovery touches only entries whose owner is gone.
  const owner = `${m.runId}/${m.collection}-${m.page}/${randomUUID()}`;
  const deps: SweepDeps = { ...pageDeps, owner, runStartedAt: run.startedAt };
  if (deps.journal) await recoverRemovals({ ...deps, journal: deps.journal, owner });
  const type = COLLECTIONS[m.collection];
  let page: Awaited<ReturnType<typeof readTargetPage>>;
  try {
    page = await readTargetPage(deps.client, deps.tenantId, m.url, type);
  } catch (e) {
    if (!(m.kind === "incremental" && isExpiredDeltaToken(e))) throw e;
    // The delta link is too old: forget it and enumerate this collection afresh.
    await st.delta.clearLink(m.collection);
    const restart: SweepPageMessage = {
      runId: m.runId,
      collection: m.collection,
      page: m.page + 1,
      url: firstPageUrl(m.collection, 999, "delta"),
      kind: "fullDelta",
    };
    if (await st.runs.markEnqueued(restart)) {
      await st.runs.update(m.runId, (r) => ({
        pagesEnqueued: r.pagesEnqueued + 1,
        pagesDone: r.pagesDone + 1,
      }));
      await st.queue.sendMessage(encodeMessage(restart));
    }
    await st.runs.markDone(m);
    return { status: "skipped", reason: "deltaExpired" };
  }
  if (page.deltaLink) await st.delta.setLink(m.collection, page.deltaLink);
  if (!page.nextLink && m.kind !== "incremental") await st.delta.markFull(m.collection, run.startedAt);
  let nextEnqueued = false;
  if (page.nextLink) {
    const next: SweepPageMessage = {
      runId: m.runId,
      collection: m.collection,
      page: m.page + 1,
      url: page.nextLink,
      kind: m.kind,
    };
    if (await st.runs.markEnqueued(next)) {
      await st.runs.update(m.runId, (r) => ({ pagesEnqueued: r.pagesEnqueued + 1 }));
      await st.queue.sendMessage(encodeMessage(next));
      nextEnqueued = true;
    }
  }
  const bindings = await bindingsFor(m.runId, deps);
  const targets = await completeTargets(deps, page, bindings.bindings);
  await deps.onPage?.({ collection: m.collection, page: m.page, targets: targets.length });
  // Insight: sign-ins, policies and privileges, read once per run on each instance.
  const insight =
    deps.insight && deps.policy.insight ? await tenantFactsFor(m.runId, deps.insight) : undefined;
  // The page's share of the run's cap is taken under the run record's ETag once the page is
  // planned, before anything is removed, so the cap holds however many instances work at once.
  const summary = emptySummary();
  // The run's own findings (e.g. sign-in data unavailable) once per run: with its first page.
  if (insight && m.collection === "applications" && m.page === 1)
    recordRunFindings(insight, deps.audit, summary.findings, deps.dryRun);
  await sweepPage(
    deps,
    bindings,
    targets,
    summary,
    async (want) => {
      if (want === 0) return 0;
      let share = 0;
      await st.runs.update(m.runId, (r) => {
        share = Math.min(want, Math.max(0, r.maxRemovals - r.reserved));
        return { reserved: r.reserved + share };
      });
      return share;
    },
    insight,
  );
  const after = await st.runs.update(m.runId, (r) => ({
    pagesDone: r.pagesDone + 1,
    targets: r.targets + summary.targets,
    removed: r.removed + summary.removed,
    failed: r.failed + summary.failed,
    deferred: r.deferred + summary.deferred,
    reportedOnly: r.reportedOnly + summary.reportedOnly,
    findings: add(r.findings, summary.findings),
    held: add(r.held, summary.held),
  }));
  await st.runs.markDone(m);
  return { status: "done", summary, run: after, nextEnqueued };
}

/** Whether every page the run enqueued is done. */
export function isRunComplete(run: SweepRun): boolean {
  return run.pagesDone >= run.pagesEnqueued;
}
