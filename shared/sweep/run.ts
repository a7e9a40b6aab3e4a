/**
 * The sweep, end to end: gather bindings from Key Vault and every application, blueprint and
 * service principal from Graph (pages of 999 with `$select` of only what the rules need), plan
 * with the core page by page, and act on the removals the plan allows.
 *
 * Pages are planned one at a time with a shared removal budget, and each page's audit records are
 * flushed before the next page is read, so memory stays flat on large tenants: across pages the
 * sweep keeps counters (the summary), the bindings and the run's insight facts, nothing per
 * object. Every guardrail is per target, so planning by page gives the same answer as planning
 * the whole tenant at once, except that the cap is spent in page order.
 *
 * Each removal is made with the permission Rollover holds (docs/permissions.md): `removeKey` as the
 * target (self mode, a proof signed in Key Vault by a key of its binding), or — managed mode on, and
 * Rollover's identity an owner — as Rollover's identity. Before either, the target is read again
 * and every guard runs again on that fresh read at the current time; if anything changed since
 * the page was read, the removal is aborted (`RemovalAborted`) and left to the next run.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@microsoft/microsoft-graph-client";
import type { AuditSink } from "../audit/events.js";
import {
  firstPageUrl,
  isExpiredDeltaToken,
  isGraphNotFound,
  type GraphEdge,
  readTargetPage,
  removePassword,
  type TargetPage,
} from "../azure/graph.js";
import { listBindings } from "../azure/bindings.js";
import type { VaultEdge } from "../azure/keyvault.js";
import type { StateStore } from "../azure/storage.js";
import type { BindingLike } from "../core/bound.js";
import type { ReasonCode } from "../core/reasons.js";
import { Reason } from "../core/reasons.js";
import {
  type Finding,
  type HeldRemoval,
  planSweep,
  type Removal,
  removalCandidates,
  type SweepInput,
  type SweepPlan,
  type SweepPolicy,
} from "../core/sweep.js";
import type { Target } from "../core/model.js";
import { asTarget } from "../azure/target-clients.js";
import { errorSummary } from "../errors.js";
import type { RemovalBudget } from "../azure/sweep-budget.js";
import type { JournalEntry, RemovalJournal } from "../azure/sweep-journal.js";
import { recoverRemovals } from "./recover.js";
import { completeTargets } from "./complete.js";
import type { DeltaStore, SweepCollection } from "../azure/sweep-delta.js";
import { type SweepKind, sweepStart } from "./delta.js";
import type { FirstSeenStore } from "../azure/sweep-seen.js";
import { gatherTenantFacts, type InsightReaders, recordRunFindings } from "./insight.js";
import type { InsightFacts } from "../core/insight.js";

export interface SweepDeps {
  graph: GraphEdge;
  /** Rollover's own Graph client (reads with Application.Read.All; writes only in managed mode). */
  client: Client;
  tenantId: string;
  vaults: readonly VaultEdge[];
  selfIds: readonly string[];
  policy: SweepPolicy;
  audit: AuditSink;
  now: () => number;
  dryRun: boolean;
  pageSize?: number;
  onPage?: (p: { collection: string; page: number; targets: number }) => void | Promise<void>;
  /** Delta links for incremental sweeps; without it every sweep reads the whole tenant. */
  delta?: DeltaStore;
  /** A full sweep at least this often (ROLLOVER_FULL_SWEEP_HOURS). */
  fullEveryMs?: number;
  /** Removals in flight, so a removal made by a process that died is still recorded. */
  journal?: RemovalJournal;
  /** State records: which keys Rollover attached for each binding. */
  state?: StateStore;
  /** When Rollover first saw each removal candidate (the grace window runs from there). */
  firstSeen?: FirstSeenStore;
  /** The removal budget every run shares (per hour and per day). */
  budget?: RemovalBudget;
  /** Managed mode (ROLLOVER_MANAGED_MODE): Rollover's identity may change targets it owns. */
  managedMode?: boolean;
  /** Rollover's own object id: whether it owns a target. */
  ownerId?: string;
  /** Entra authority host, for signing in as a target (removeKey in self mode). */
  authorityHost?: string;
  /** Who is sweeping (run, and page of a fanned-out run): the owner of its journal entries. */
  owner?: string;
  /** When the run started: a credential first seen in this run is never removed in it. */
  runStartedAt?: number;
  /** Sign-ins, policies and privileges for the insight findings (sweep/insight.ts). */
  insight?: InsightReaders;
}

export interface SweepSummary {
  pages: number;
  targets: number;
  findings: Partial<Record<ReasonCode, number>>;
  removed: number;
  failed: number;
  held: Partial<Record<ReasonCode, number>>;
  deferred: number;
  /** Removals planned but not made because the run is a dry run or in report mode. */
  reportedOnly: number;
  /** How each collection was read: in full (list or /delta) or incrementally. */
  kinds: Partial<Record<SweepCollection, SweepKind>>;
  /** Removals made, by path: `removeKey` (as the target) or `managed` (as Rollover's identity). */
  paths: Partial<Record<"removeKey" | "managed", number>>;
}

/** What the sweep knows of bindings: the valid ones, and the keys of those it cannot read. */
export interface SweepBindings {
  bindings: BindingLike[];
  /** Every version of certificates whose rollover-* tags are malformed: never orphans. */
  protectedThumbprints: Set<string>;
}

export async function gatherBindings(
  vaults: readonly VaultEdge[],
  state?: StateStore,
): Promise<SweepBindings> {
  const bindings: BindingLike[] = [];
  const protectedThumbprints = new Set<string>();
  for await (const { vault, certificateName, parsed } of listBindings(vaults)) {
    const obs = await vault.observe(certificateName);
    if (!obs) continue;
    if (!parsed.ok) {
      for (const v of obs.versions) protectedThumbprints.add(v.thumbprint);
      continue;
    }
    const attached = (await state?.get(vault.name, certificateName))?.attached;
    bindings.push({ binding: parsed.binding, versions: obs.versions, ...(attached ? { attached } : {}) });
  }
  return { bindings, protectedThumbprints };
}

export function emptySummary(): SweepSummary {
  return {
    pages: 0,
    targets: 0,
    findings: {},
    removed: 0,
    failed: 0,
    held: {},
    deferred: 0,
    reportedOnly: 0,
    kinds: {},
    paths: {},
  };
}

class RemovalAbort extends Error {}

/**
 * Whether two reads of a target hold the same credentials (ids and dates). Not thumbprints: a
 * list read may not carry a key's certificate where a read by id does.
 */
function sameCredentials(a: Target, b: Target): boolean {
  const sig = (t: Target) =>
    [
      ...t.keyCredentials.map((k) => `k/${k.keyId}/${k.start}/${k.end}`),
      ...t.passwordCredentials.map((p) => `p/${p.keyId}/${p.start}/${p.end}`),
    ]
      .sort()
      .join("|");
  return sig(a) === sig(b);
}

/**
 * Plans one page and acts on it; adds to `summary`. `reserve` (a fanned-out run) takes the page's
 * share of the run's cap; without it the cap is what this process's summary has left.
 */
export async function sweepPage(
  deps: SweepDeps,
  gathered: SweepBindings,
  targets: readonly Target[],
  summary: SweepSummary,
  reserve?: (want: number) => Promise<number>,
  /** Sign-ins, policies and privileges for the insight findings (read once per run). */
  insight?: InsightFacts,
): Promise<SweepPlan> {
  const act = deps.policy.mode === "remove" && !deps.dryRun;
  if (act && !(deps.firstSeen && deps.budget)) {
    throw new Error(
      "remove mode needs storage (AzureWebJobsStorage) for first-sight records and the removal budget",
    );
  }
  const now = deps.now();
  const base: SweepInput = {
    targets,
    bindings: gathered.bindings,
    selfIds: deps.selfIds,
    protectedThumbprints: gathered.protectedThumbprints,
    runStartedAt: deps.runStartedAt ?? now,
    ...(insight && deps.policy.insight ? { insight } : {}),
  };
  const candidates = removalCandidates(base, deps.policy, now);
  const firstSeen = deps.firstSeen ? await deps.firstSeen.observe(candidates, now, !deps.dryRun) : new Map();
  const left = reserve
    ? deps.policy.maxRemovals
    : Math.max(0, deps.policy.maxRemovals - summary.removed - summary.reportedOnly);
  // Ownership is read only for removals the plan would make in managed mode: plan as if every
  // candidate's target were owned, check those the plan picks, and plan again without the ones
  // Rollover does not own, until every managed removal in the plan is on a target it owns. A
  // target not checked (beyond the cap) stays deferred, never reported as not permitted.
  const notOwned = new Set<string>();
  const checked = new Set<string>();
  const byId = new Map(targets.map((t) => [t.id, t]));
  const candidateTargets = [...new Set(candidates.map((c) => c.targetId))];
  let input: SweepInput;
  let plan: SweepPlan;
  for (;;) {
    input = {
      ...base,
      firstSeen,
      access: {
        managedMode: deps.managedMode === true && deps.ownerId !== undefined,
        owned: new Set(candidateTargets.filter((id) => !notOwned.has(id))),
      },
    };
    plan = planSweep(input, { ...deps.policy, maxRemovals: left }, now);
    const unchecked = [
      ...new Set(
        plan.removals
          .filter((r) => r.path?.kind === "managed" && !checked.has(r.finding.targetId))
          .map((r) => r.finding.targetId),
      ),
    ];
    if (unchecked.length === 0) break;
    for (const id of unchecked) {
      const t = byId.get(id)!;
      checked.add(id);
      if (!(await deps.graph.ownedBy(deps.client, t.type, t.id, deps.ownerId!))) notOwned.add(id);
    }
  }
  // The run's cap (fanned out: the page's share of it), then, for removals that will be made, the
  // budget every run shares.
  let allowed = reserve ? await reserve(plan.removals.length) : plan.removals.length;
  const defer = (from: number, guard: ReasonCode) => {
    for (const r of plan.removals.splice(from)) plan.held.push({ ...r, guard });
  };
  defer(allowed, Reason.GuardRemovalCap);
  if (act && plan.removals.length > 0) {
    allowed = await deps.budget!.take(plan.removals.length, now);
    defer(allowed, Reason.GuardRemovalBudget);
  }
  summary.pages += 1;
  summary.targets += targets.length;
  for (const f of plan.findings) {
    summary.findings[f.reason] = (summary.findings[f.reason] ?? 0) + 1;
    deps.audit.emit({
      ...findingFields(f),
      action: "sweepFinding",
      outcome: "skipped",
      reason: f.reason,
      message: f.message,
    });
  }
  for (const h of plan.held) emitHeld(deps, h, summary);
  for (const r of plan.removals) {
    const f = r.finding;
    if (!act) {
      summary.reportedOnly += 1;
      deps.audit.emit({
        ...findingFields(f),
        action: "sweepRemoval",
        outcome: "planned",
        reason: deps.policy.mode === "report" ? Reason.ReportOnly : r.reason,
        message: `would remove ${f.credential} ${f.keyId} (${r.reason}) ${describePath(r)}`,
        dryRun: true,
      });
      continue;
    }
    await removeOne(deps, input, r, byId.get(f.targetId)!, summary);
  }
  return plan;
}

function describePath(r: Removal): string {
  const p = r.path;
  if (!p) return "";
  return p.kind === "removeKey"
    ? `with removeKey as the target, proof signed by ${p.vaultName}/${p.certificateName} version ${p.signWith}`
    : "as Rollover's identity, an owner of the target (managed mode)";
}

function emitHeld(deps: SweepDeps, h: HeldRemoval, summary: SweepSummary): void {
  if (h.guard === Reason.GuardRemovalCap || h.guard === Reason.GuardRemovalBudget) summary.deferred += 1;
  if (h.guard !== Reason.GuardRemovalCap) summary.held[h.guard] = (summary.held[h.guard] ?? 0) + 1;
  deps.audit.emit({
    ...findingFields(h.finding),
    action: "sweepDeferred",
    outcome: "skipped",
    reason: h.guard,
    message:
      h.guard === Reason.RemovalNotPermitted
        ? `${h.reason} not permitted: Rollover holds no permission to remove this ${h.finding.credential}; it would take ${h.allowWith}`
        : `${h.reason} held back: ${h.guard}`,
  });
}

/**
 * One removal: journal, fresh read, every guard again at the current time, then the one change
 * along the planned path; audited before and after.
 */
async function removeOne(
  deps: SweepDeps,
  input: SweepInput,
  r: Removal,
  target: Target,
  summary: SweepSummary,
): Promise<void> {
  const f = r.finding;
  const how = describePath(r);
  deps.audit.emit({
    ...findingFields(f),
    action: "sweepRemoval",
    outcome: "planned",
    reason: r.reason,
    message: `about to remove ${f.credential} ${f.keyId} ${how}`,
  });
  await deps.audit.flush?.();
  const entry: JournalEntry = {
    tenantId: f.tenantId,
    targetId: f.targetId,
    targetType: target.type,
    appId: f.appId,
    displayName: f.displayName,
    credential: f.credential,
    keyId: f.keyId,
  };
  await deps.journal?.begin(entry, deps.owner ?? `sweep-${randomUUID()}`, deps.now());
  try {
    // Re-read and re-plan at the current time: anything changed since the page was read aborts.
    const fresh = await deps.graph.getTarget(deps.client, f.tenantId, target.type, target.id);
    if (!fresh || !sameCredentials(target, fresh)) {
      throw new RemovalAbort("the target's credentials changed since the page was read");
    }
    const again = planSweep(
      { ...input, targets: [fresh] },
      { ...deps.policy, maxRemovals: Number.MAX_SAFE_INTEGER },
      deps.now(),
    );
    const still = again.removals.find(
      (x) => x.finding.keyId === f.keyId && x.finding.credential === f.credential,
    );
    if (!still || still.path?.kind !== r.path?.kind) {
      const held = again.held.find((x) => x.finding.keyId === f.keyId);
      throw new RemovalAbort(`a guard holds on the fresh read (${held?.guard ?? "no longer a candidate"})`);
    }
    const path = still.path!;
    if (path.kind === "removeKey") {
      const vault = deps.vaults.find((v) => v.name === path.vaultName);
      if (!vault) throw new RemovalAbort(`vault ${path.vaultName} is not configured`);
      // Self mode: as the target, with a proof signed by a key of its binding
      // (application-removekey: an application needs no permission to roll its own keys).
      const { client, proof } = await asTarget(
        { graph: deps.graph, authorityHost: deps.authorityHost ?? "", now: deps.now },
        vault,
        path.certificateName,
        f.tenantId,
        fresh,
        path.signWith,
      );
      await deps.graph.removeKey(client, target.type, target.id, f.keyId, proof);
    } else if (f.credential === "secret") {
      // Managed mode, owner: removePassword with Application.ReadWrite.OwnedBy.
      await removePassword(deps.client, target.type, target.id, f.keyId);
    } else {
      // Managed mode, owner: PATCH keyCredentials with Application.ReadWrite.OwnedBy
      // (application-update). The collection is read right before the PATCH; anything other than
      // what the fresh read held aborts, and only the one key leaves it.
      const expected = fresh.keyCredentials
        .map((k) => k.keyId)
        .sort()
        .join("|");
      await deps.graph.updateKeyCredentials(deps.client, target.type, target.id, (cur) => {
        if (
          cur
            .map((k) => k.keyId.toLowerCase())
            .sort()
            .join("|") !== expected
        ) {
          throw new RemovalAbort("the target's keys changed right before the change");
        }
        const next = cur.filter((k) => k.keyId.toLowerCase() !== f.keyId);
        return next;
      });
    }
    summary.removed += 1;
    summary.paths[path.kind] = (summary.paths[path.kind] ?? 0) + 1;
    deps.audit.emit({
      ...findingFields(f),
      action: "sweepRemoval",
      outcome: "succeeded",
      reason: r.reason,
      message: `removed ${f.credential} ${f.keyId} ${describePath(still)}`,
    });
    await deps.audit.flush?.();
    await deps.firstSeen?.forget(f.targetId, f.keyId);
    await deps.journal?.end(entry);
  } catch (e) {
    if (e instanceof RemovalAbort) {
      summary.held[Reason.RemovalAborted] = (summary.held[Reason.RemovalAborted] ?? 0) + 1;
      deps.audit.emit({
        ...findingFields(f),
        action: "sweepRemoval",
        outcome: "skipped",
        reason: Reason.RemovalAborted,
        message: `did not remove ${f.credential} ${f.keyId}: ${e.message}; the next run looks again`,
      });
    } else if (isGraphNotFound(e)) {
      // Already gone: the read this plan came from did not show an earlier removal yet (Entra
      // is eventually consistent). Not a failure, and nothing to redo.
      deps.audit.emit({
        ...findingFields(f),
        action: "sweepRemoval",
        outcome: "skipped",
        reason: r.reason,
        message: `${f.credential} ${f.keyId} was already gone`,
      });
    } else {
      summary.failed += 1;
      deps.audit.emit({
        ...findingFields(f),
        action: "sweepRemoval",
        outcome: "failed",
        reason: r.reason,
        message: `could not remove ${f.credential} ${f.keyId}: ${errorSummary(e)}`,
      });
    }
    await deps.journal?.end(entry);
  }
}

/** Sweeps the tenant in one process, page by page: in full, or only what changed (see delta.ts). */
export async function runSweep(input: SweepDeps): Promise<SweepSummary> {
  const deps: SweepDeps = {
    ...input,
    owner: input.owner ?? `run-${randomUUID()}`,
    runStartedAt: input.runStartedAt ?? input.now(),
  };
  if (deps.journal) await recoverRemovals({ ...deps, journal: deps.journal, owner: deps.owner! });
  const bindings = await gatherBindings(deps.vaults, deps.state);
  const summary = emptySummary();
  const tenantFacts = deps.insight && deps.policy.insight ? await gatherTenantFacts(deps.insight) : undefined;
  if (tenantFacts) recordRunFindings(tenantFacts, deps.audit, summary.findings, deps.dryRun);
  for (const [collection, type] of [
    ["applications", "application"],
    ["servicePrincipals", "servicePrincipal"],
  ] as const) {
    const startedAt = deps.now();
    let start = deps.delta
      ? sweepStart(
          collection,
          await deps.delta.get(collection),
          startedAt,
          deps.fullEveryMs ?? DAY_MS,
          deps.pageSize,
        )
      : { kind: "full" as SweepKind, url: firstPageUrl(collection, deps.pageSize) };
    let url: string | undefined = start.url;
    let page = 0;
    while (url) {
      let p: TargetPage;
      try {
        p = await readTargetPage(deps.client, deps.tenantId, url, type);
      } catch (e) {
        if (!(deps.delta && start.kind === "incremental" && isExpiredDeltaToken(e))) throw e;
        // The delta link is too old: forget it and enumerate afresh.
        await deps.delta.clearLink(collection);
        start = { kind: "fullDelta", url: firstPageUrl(collection, deps.pageSize, "delta") };
        url = start.url;
        continue;
      }
      page += 1;
      const targets = await completeTargets(deps, p, bindings.bindings);
      await deps.onPage?.({ collection, page, targets: targets.length });
      await sweepPage(deps, bindings, targets, summary, undefined, tenantFacts);
      // The page's records go now: the sweep keeps counters across pages, never records.
      await deps.audit.flush?.();
      if (p.deltaLink && deps.delta) await deps.delta.setLink(collection, p.deltaLink);
      url = p.nextLink;
    }
    if (deps.delta && start.kind !== "incremental") await deps.delta.markFull(collection, startedAt);
    summary.kinds[collection] = start.kind;
  }
  return summary;
}

const DAY_MS = 86_400_000;

function findingFields(f: Finding) {
  return {
    tenantId: f.tenantId,
    targetType: f.targetType,
    targetObjectId: f.targetId,
    targetAppId: f.appId,
    targetDisplayName: f.displayName,
    keyId: f.keyId,
    ...(f.thumbprint ? { thumbprint: f.thumbprint } : {}),
    notBefore: new Date(f.start).toISOString(),
    notAfter: new Date(f.end).toISOString(),
  };
}
