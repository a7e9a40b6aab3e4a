/**
 * Gathers the facts the sweep's insight findings need (shared/core/insight.ts): sign-in activity
 * and app management policies once per run, privileges page by page for the identities that have
 * a secret or a long-lived credential. A fact that cannot be read (missing optional permission,
 * national cloud, an outage) becomes `available: false` with the reason: the sweep goes on.
 */
import type { AuditSink } from "../audit/events.js";
import type {
  InsightFacts,
  InsightPolicy,
  PolicyFacts,
  PrivilegeFacts,
  SignInFacts,
} from "../core/insight.js";
import { restrictionsFor, runFindings } from "../core/insight.js";
import type { Target } from "../core/model.js";
import type { ReasonCode } from "../core/reasons.js";
import { errorSummary } from "../rotation/engine.js";

export interface InsightReaders {
  signIns?: () => Promise<SignInFacts>;
  policies?: () => Promise<PolicyFacts>;
  privileges?: (holders: Array<{ appId: string; servicePrincipalId?: string }>) => Promise<PrivilegeFacts>;
}

async function orUnavailable<T>(read: (() => Promise<T>) | undefined, what: string) {
  if (!read) return undefined;
  try {
    return await read();
  } catch (e) {
    return { available: false as const, detail: `${what} could not be read: ${errorSummary(e)}` };
  }
}

/** Sign-ins and policies, once per run. */
export async function gatherTenantFacts(readers: InsightReaders): Promise<InsightFacts> {
  const signIns = await orUnavailable(readers.signIns, "sign-in activity");
  const policies = await orUnavailable(readers.policies, "app management policies");
  return { ...(signIns ? { signIns } : {}), ...(policies ? { policies } : {}) };
}

/** The identities on a page worth asking about privileges: a valid secret, or a long-lived credential. */
export function privilegeCandidates(
  targets: readonly Target[],
  policy: InsightPolicy,
  now: number,
  facts: InsightFacts = {},
): Array<{ appId: string; servicePrincipalId?: string }> {
  const out = new Map<string, { appId: string; servicePrincipalId?: string }>();
  const valid = (c: { start: number; end: number }) => c.start <= now && now < c.end;
  for (const t of targets) {
    const r = restrictionsFor(t, facts.policies);
    const limit = Math.min(
      policy.maxLifetimeMs,
      r?.keyLifetimeMs ?? Infinity,
      r?.passwordLifetimeMs ?? Infinity,
    );
    const risky =
      t.passwordCredentials.some(valid) || t.keyCredentials.some((k) => valid(k) && k.end - k.start > limit);
    if (!risky || !t.appId) continue;
    out.set(
      t.appId,
      t.type === "servicePrincipal" ? { appId: t.appId, servicePrincipalId: t.id } : { appId: t.appId },
    );
  }
  return [...out.values()];
}

/** The run's facts plus the privileges of this page's candidates. */
export async function pageFacts(
  readers: InsightReaders,
  tenant: InsightFacts,
  targets: readonly Target[],
  policy: InsightPolicy,
  now: number,
): Promise<InsightFacts> {
  const read = readers.privileges;
  if (!read) return tenant;
  const privileges = await orUnavailable(
    () => read(privilegeCandidates(targets, policy, now, tenant)),
    "app role assignments",
  );
  return privileges ? { ...tenant, privileges } : tenant;
}

/** Records the run-level findings (one each per run) in the audit trail and the summary. */
export function recordRunFindings(
  facts: InsightFacts,
  audit: AuditSink,
  findings: Partial<Record<ReasonCode, number>>,
  dryRun: boolean,
): void {
  for (const f of runFindings(facts)) {
    findings[f.reason] = (findings[f.reason] ?? 0) + 1;
    audit.emit({ action: "sweepFinding", outcome: "skipped", reason: f.reason, message: f.message, dryRun });
  }
}
