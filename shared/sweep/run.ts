/**
 * The sweep, end to end: gather bindings from Key Vault and every application, blueprint and
 * service principal from Graph (pages of 999 with `$select` of only what the rules need), plan
 * with the core page by page, and act on the removals the plan allows.
 *
 * Pages are planned one at a time with a shared removal budget, so memory stays flat on large
 * tenants; every guardrail is per target, so planning by page gives the same answer as planning
 * the whole tenant at once, except that the cap is spent in page order.
 */
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
import type { VaultEdge } from "../azure/keyvault.js";
import type { BindingLike } from "../core/bound.js";
import { bindingFromTags } from "../core/binding.js";
import type { ReasonCode } from "../core/reasons.js";
import { Reason } from "../core/reasons.js";
import { type Finding, planSweep, type SweepPlan, type SweepPolicy } from "../core/sweep.js";
import type { Target } from "../core/model.js";
import { errorSummary } from "../rotation/engine.js";
import { type JournalEntry, type RemovalJournal, recoverRemovals } from "./journal.js";
import { completeTargets } from "./complete.js";
import { type DeltaStore, type SweepCollection, type SweepKind, sweepStart } from "./delta.js";
import { gatherTenantFacts, type InsightReaders, recordRunFindings } from "./insight.js";
import type { InsightFacts } from "../core/insight.js";

export interface SweepDeps {
  graph: GraphEdge;
  client: Client;
  tenantId: string;
  vaults: Iterable<VaultEdge>;
  selfIds: readonly string[];
  policy: SweepPolicy;
  audit: AuditSink;
  now: () => number;
  dryRun: boolean;
  pageSize?: number;
  onPage?: (p: { collection: string; page: number; targets: number }) => void;
  /** Delta links for incremental sweeps; without it every sweep reads the whole tenant. */
  delta?: DeltaStore;
  /** A full sweep at least this often (ROLLOVER_FULL_SWEEP_HOURS). */
  fullEveryMs?: number;
  /** Removals in flight, so a removal made by a process that died is still recorded. */
  journal?: RemovalJournal;
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
}

export async function gatherBindings(vaults: Iterable<VaultEdge>): Promise<BindingLike[]> {
  const out: BindingLike[] = [];
  for (const vault of vaults) {
    for await (const c of vault.listCertificates()) {
      const parsed = bindingFromTags(vault.name, c.name, c.tags);
      if (!parsed?.ok) continue;
      const obs = await vault.observe(c.name);
      if (obs) out.push({ binding: parsed.binding, versions: obs.versions });
    }
  }
  return out;
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
  };
}

/** Plans one page against the remaining budget and acts on it; adds to `summary`. */
export async function sweepPage(
  deps: SweepDeps,
  bindings: readonly BindingLike[],
  targets: readonly Target[],
  summary: SweepSummary,
  tenantFacts?: InsightFacts,
  /** This page's facts, when the caller already read them (the fanned-out sweep). */
  pageInsight?: InsightFacts,
): Promise<SweepPlan> {
  const budget = Math.max(0, deps.policy.maxRemovals - summary.removed - summary.reportedOnly);
  const insight = pageInsight ?? (deps.policy.insight ? tenantFacts : undefined);
  const plan = planSweep(
    { targets, bindings, selfIds: deps.selfIds, ...(insight ? { insight } : {}) },
    { ...deps.policy, maxRemovals: budget },
    deps.now(),
  );
  summary.pages += 1;
  summary.targets += targets.length;
  const byId = new Map(targets.map((t) => [t.id, t]));
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
  for (const h of plan.held) {
    if (h.guard === Reason.GuardRemovalCap) summary.deferred += 1;
    else summary.held[h.guard] = (summary.held[h.guard] ?? 0) + 1;
    deps.audit.emit({
      ...findingFields(h.finding),
      action: "sweepDeferred",
      outcome: "skipped",
      reason: h.guard,
      message: `${h.reason} held back: ${h.guard}`,
    });
  }
  const act = deps.policy.mode === "remove" && !deps.dryRun;
  for (const r of plan.removals) {
    const f = r.finding;
    if (!act) {
      summary.reportedOnly += 1;
      deps.audit.emit({
        ...findingFields(f),
        action: "sweepRemoval",
        outcome: "planned",
        reason: deps.policy.mode === "report" ? Reason.ReportOnly : r.reason,
        message: `would remove ${f.credential} ${f.keyId} (${r.reason})`,
        dryRun: true,
      });
      continue;
    }
    const target = byId.get(f.targetId)!;
    deps.audit.emit({
      ...findingFields(f),
      action: "sweepRemoval",
      outcome: "planned",
      reason: r.reason,
      message: `about to remove ${f.credential} ${f.keyId}`,
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
    await deps.journal?.begin(entry);
    try {
      if (f.credential === "secret") {
        await removePassword(deps.client, target.type, target.id, f.keyId);
      } else {
        await deps.graph.updateKeyCredentials(deps.client, target.type, target.id, (cur) =>
          cur.filter((k) => k.keyId.toLowerCase() !== f.keyId),
        );
      }
      summary.removed += 1;
      deps.audit.emit({
        ...findingFields(f),
        action: "sweepRemoval",
        outcome: "succeeded",
        reason: r.reason,
        message: `removed ${f.credential} ${f.keyId}`,
      });
      await deps.audit.flush?.();
      await deps.journal?.end(entry);
    } catch (e) {
      if (isGraphNotFound(e)) {
        // Already gone: the list this plan came from was a read that did not show an earlier
        // removal yet (Entra is eventually consistent). Not a failure, and nothing to redo.
        deps.audit.emit({
          ...findingFields(f),
          action: "sweepRemoval",
          outcome: "skipped",
          reason: r.reason,
          message: `${f.credential} ${f.keyId} was already gone`,
        });
        await deps.journal?.end(entry);
        continue;
      }
      summary.failed += 1;
      deps.audit.emit({
        ...findingFields(f),
        action: "sweepRemoval",
        outcome: "failed",
        reason: r.reason,
        message: `could not remove ${f.credential} ${f.keyId}: ${errorSummary(e)}`,
      });
      await deps.journal?.end(entry);
    }
  }
  return plan;
}

/** Sweeps the tenant in one process, page by page: in full, or only what changed (see delta.ts). */
export async function runSweep(deps: SweepDeps): Promise<SweepSummary> {
  if (deps.journal) await recoverRemovals({ ...deps, journal: deps.journal });
  const bindings = await gatherBindings(deps.vaults);
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
      const targets = await completeTargets(deps, p, bindings);
      deps.onPage?.({ collection, page, targets: targets.length });
      await sweepPage(deps, bindings, targets, summary, tenantFacts);
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
