/**
 * Gathers the facts the sweep's insight findings need (shared/core/insight.ts), once per run:
 * sign-in activity, app management policies, and who holds which Microsoft Graph application
 * permission. A fact that cannot be read (missing optional permission,
 * national cloud, an outage) becomes `available: false` with the reason: the sweep goes on.
 */
import type { AuditSink } from "../audit/events.js";
import type { InsightFacts, PolicyFacts, PrivilegeFacts, SignInFacts } from "../core/insight.js";
import { runFindings } from "../core/insight.js";
import type { ReasonCode } from "../core/reasons.js";
import { errorSummary } from "../errors.js";

export interface InsightReaders {
  signIns?: () => Promise<SignInFacts>;
  policies?: () => Promise<PolicyFacts>;
  privileges?: () => Promise<PrivilegeFacts>;
}

async function orUnavailable<T>(read: (() => Promise<T>) | undefined, what: string) {
  if (!read) return undefined;
  try {
    return await read();
  } catch (e) {
    return { available: false as const, detail: `${what} could not be read: ${errorSummary(e)}` };
  }
}

/** Sign-ins, policies and privileges: once per run. */
export async function gatherTenantFacts(readers: InsightReaders): Promise<InsightFacts> {
  const signIns = await orUnavailable(readers.signIns, "sign-in activity");
  const policies = await orUnavailable(readers.policies, "app management policies");
  const privileges = await orUnavailable(readers.privileges, "app role assignments");
  return {
    ...(signIns ? { signIns } : {}),
    ...(policies ? { policies } : {}),
    ...(privileges ? { privileges } : {}),
  };
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
