/**
 * The data of `rollover report` (`--json` prints it; `--html` draws it): per target, every
 * credential's validity window, the rotations and removals the audit trail records, the grace
 * windows after each verified rotation, and the findings, with the run's totals. Pure: built from
 * plain values the command gathered (targets, sweep plan, audit records).
 */
import type { RecordLike } from "../../shared/audit/record.js";
import type { BindingLike } from "../../shared/core/bound.js";
import type { RunFinding } from "../../shared/core/insight.js";
import type { Target } from "../../shared/core/model.js";
import { REASON_TEXT, Reason, type ReasonCode } from "../../shared/core/reasons.js";
import type { Finding, SweepPlan } from "../../shared/core/sweep.js";

export type Severity = "high" | "medium" | "low" | "info";

export const SEVERITIES: readonly Severity[] = ["high", "medium", "low", "info"];

const HIGH: ReadonlySet<string> = new Set([
  Reason.HighPrivilegeCredential,
  Reason.CredentialExpired,
  Reason.KeyOrphaned,
  Reason.PolicyWouldRefuse,
]);
const MEDIUM: ReadonlySet<string> = new Set([
  Reason.CredentialUnused,
  Reason.CredentialNeverUsed,
  Reason.SecretRestrictedByPolicy,
  Reason.CredentialOverLongLived,
  Reason.ExpiringUnbound,
  Reason.SecretNotAllowed,
]);
const INFO: ReadonlySet<string> = new Set([Reason.SignInDataUnavailable, Reason.PolicyDataUnavailable]);

export function severityOf(reason: string): Severity {
  if (HIGH.has(reason)) return "high";
  if (MEDIUM.has(reason)) return "medium";
  if (INFO.has(reason)) return "info";
  return "low";
}

export interface ReportCredential {
  keyId: string;
  kind: "certificate" | "secret";
  displayName: string | null;
  start: string;
  end: string;
  thumbprint?: string;
  /** The Key Vault certificate that renews it, when a binding's version backs it. */
  boundTo?: string;
  /** The most severe finding on it, if any. */
  severity?: Severity;
  /** When the audit trail records its removal (retired or swept); it is no longer on the target. */
  removedAt?: string;
}

export interface ReportEvent {
  time: string;
  /** rotation: renew/attach/verify/retire; removal: a sweep removal. */
  kind: "rotation" | "removal";
  action: string;
  outcome: string;
  reason: string;
  keyId?: string;
  message: string;
}

export interface ReportWindow {
  start: string;
  end: string;
  label: string;
}

export interface ReportFinding {
  severity: Severity;
  reason: string;
  meaning: string;
  targetId: string;
  targetDisplayName: string;
  credential: "certificate" | "secret";
  keyId: string;
  end: string;
  message: string;
}

export interface ReportTarget {
  id: string;
  appId: string;
  displayName: string;
  type: string;
  credentials: ReportCredential[];
  events: ReportEvent[];
  graceWindows: ReportWindow[];
  findings: ReportFinding[];
}

export interface Report {
  generatedAt: string;
  tenantId: string;
  /** The span the timelines cover (every credential and event fits). */
  axis: { start: string; end: string };
  totals: {
    targets: number;
    credentials: number;
    findings: number;
    bySeverity: Record<Severity, number>;
    byReason: Record<string, number>;
    rotations: number;
    removals: number;
    auditRecords: number;
  };
  /** Findings about the run itself (e.g. sign-in data unavailable). */
  notes: Array<{ reason: string; severity: Severity; message: string }>;
  /** Where the audit trail came from, or why it is missing. */
  auditSource: string;
  /** Targets with credentials but no finding, binding or audit record, left out (`--all` shows them). */
  omittedTargets: number;
  findings: ReportFinding[];
  targets: ReportTarget[];
}

export interface ReportInput {
  now: number;
  tenantId: string;
  targets: readonly Target[];
  bindings: readonly BindingLike[];
  plan: SweepPlan;
  runFindings: readonly RunFinding[];
  audit: readonly RecordLike[];
  auditSource: string;
  graceMs: number;
  /** Every target with credentials, not only those with a finding, a binding or audit records. */
  all?: boolean;
}

const ROTATION_ACTIONS = new Set(["renew", "attach", "verify", "retire"]);
const SEVERITY_RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2, info: 3 };

const iso = (ms: number) => new Date(ms).toISOString();
const str = (v: unknown) => (typeof v === "string" ? v : v instanceof Date ? v.toISOString() : "");

function toReportFinding(f: Finding): ReportFinding {
  return {
    severity: severityOf(f.reason),
    reason: f.reason,
    meaning: REASON_TEXT[f.reason as ReasonCode] ?? "",
    targetId: f.targetId,
    targetDisplayName: f.displayName,
    credential: f.credential === "key" ? "certificate" : "secret",
    keyId: f.keyId,
    end: iso(f.end),
    message: f.message,
  };
}

export function buildReport(input: ReportInput): Report {
  const findings = input.plan.findings
    .map(toReportFinding)
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_RANK[a.f.severity] - SEVERITY_RANK[b.f.severity] || a.i - b.i)
    .map((x) => x.f);
  const boundBy = new Map<string, string>();
  for (const b of input.bindings)
    for (const v of b.versions)
      boundBy.set(v.thumbprint, `${b.binding.vaultName}/${b.binding.certificateName}`);

  const byTarget = new Map<string, RecordLike[]>();
  for (const r of input.audit) {
    const id = str(r.TargetObjectId).toLowerCase();
    if (!id) continue;
    const list = byTarget.get(id) ?? [];
    list.push(r);
    byTarget.set(id, list);
  }

  let lo = input.now;
  let hi = input.now;
  const see = (ms: number) => {
    if (Number.isFinite(ms)) {
      lo = Math.min(lo, ms);
      hi = Math.max(hi, ms);
    }
  };

  const targets: ReportTarget[] = [];
  let rotations = 0;
  let removals = 0;
  const sorted = [...input.targets].sort(
    (a, b) => a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id),
  );
  const findingsOf = new Map<string, ReportFinding[]>();
  for (const f of findings) {
    const list = findingsOf.get(f.targetId) ?? [];
    list.push(f);
    findingsOf.set(f.targetId, list);
  }
  let omitted = 0;
  for (const t of sorted) {
    const mine = findingsOf.get(t.id) ?? [];
    const records = byTarget.get(t.id.toLowerCase()) ?? [];
    const credentialCount = t.keyCredentials.length + t.passwordCredentials.length;
    if (credentialCount === 0 && mine.length === 0 && records.length === 0) continue;
    const bound = t.keyCredentials.some((k) => k.thumbprint !== undefined && boundBy.has(k.thumbprint));
    // By default only what deserves a look: a finding, a binding, or something the audit trail recorded.
    if (!input.all && mine.length === 0 && records.length === 0 && !bound) {
      omitted += 1;
      continue;
    }
    const worst = (keyId: string): Severity | undefined =>
      mine
        .filter((f) => f.keyId === keyId)
        .map((f) => f.severity)
        .sort((a, b) => SEVERITY_RANK[a] - SEVERITY_RANK[b])[0];
    const credentials: ReportCredential[] = [
      ...t.keyCredentials.map((k) => {
        const bound = k.thumbprint ? boundBy.get(k.thumbprint) : undefined;
        const sev = worst(k.keyId);
        return {
          keyId: k.keyId,
          kind: "certificate" as const,
          displayName: k.displayName ?? null,
          start: iso(k.start),
          end: iso(k.end),
          ...(k.thumbprint ? { thumbprint: k.thumbprint } : {}),
          ...(bound ? { boundTo: bound } : {}),
          ...(sev ? { severity: sev } : {}),
        };
      }),
      ...t.passwordCredentials.map((p) => {
        const sev = worst(p.keyId);
        return {
          keyId: p.keyId,
          kind: "secret" as const,
          displayName: p.displayName ?? null,
          start: iso(p.start),
          end: iso(p.end),
          ...(sev ? { severity: sev } : {}),
        };
      }),
    ].sort((a, b) => a.start.localeCompare(b.start) || a.keyId.localeCompare(b.keyId));
    for (const c of credentials) {
      see(Date.parse(c.start));
      see(Date.parse(c.end));
    }
    const events: ReportEvent[] = [];
    const graceWindows: ReportWindow[] = [];
    for (const r of records) {
      const action = str(r.Action);
      const outcome = str(r.Outcome);
      const time = str(r.TimeGenerated);
      if (!time || r.DryRun === true) continue;
      const isRotation = ROTATION_ACTIONS.has(action) && outcome === "succeeded";
      const isRemoval = action === "sweepRemoval" && outcome === "succeeded";
      if (!isRotation && !isRemoval) continue;
      const keyId = str(r.KeyId);
      events.push({
        time,
        kind: isRotation ? "rotation" : "removal",
        action,
        outcome,
        reason: str(r.Reason),
        ...(keyId ? { keyId } : {}),
        message: str(r.Message),
      });
      see(Date.parse(time));
      if (isRotation) rotations += 1;
      else removals += 1;
      if (action === "verify" && input.graceMs > 0) {
        const end = Date.parse(time) + input.graceMs;
        graceWindows.push({ start: time, end: iso(end), label: "grace window after verification" });
        see(end);
      }
    }
    events.sort((a, b) => a.time.localeCompare(b.time));
    // Credentials the audit trail saw removed: drawn from their recorded validity, up to removal.
    const present = new Set(credentials.map((c) => c.keyId));
    for (const r of records) {
      const action = str(r.Action);
      const keyId = str(r.KeyId);
      if (!keyId || present.has(keyId) || r.DryRun === true || str(r.Outcome) !== "succeeded") continue;
      if (action !== "retire" && action !== "sweepRemoval") continue;
      const start = str(r.NotBefore);
      const end = str(r.NotAfter);
      if (!start || !end || !Number.isFinite(Date.parse(start)) || !Number.isFinite(Date.parse(end)))
        continue;
      present.add(keyId);
      credentials.push({
        keyId,
        kind: str(r.Thumbprint) !== "" || action === "retire" ? "certificate" : "secret",
        displayName: null,
        start: new Date(Date.parse(start)).toISOString(),
        end: new Date(Date.parse(end)).toISOString(),
        removedAt: str(r.TimeGenerated),
      });
      see(Date.parse(start));
      see(Date.parse(end));
    }
    targets.push({
      id: t.id,
      appId: t.appId,
      displayName: t.displayName || t.id,
      type: t.type,
      credentials,
      events,
      graceWindows,
      findings: mine,
    });
  }

  const bySeverity: Record<Severity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  const byReason: Record<string, number> = {};
  for (const f of findings) {
    bySeverity[f.severity] += 1;
    byReason[f.reason] = (byReason[f.reason] ?? 0) + 1;
  }
  const notes = input.runFindings.map((f) => ({
    reason: f.reason,
    severity: severityOf(f.reason),
    message: f.message,
  }));
  for (const n of notes) {
    bySeverity[n.severity] += 1;
    byReason[n.reason] = (byReason[n.reason] ?? 0) + 1;
  }
  // A little room on both sides, so bars at the edges stay visible.
  const pad = Math.max(86_400_000, (hi - lo) * 0.02);
  return {
    generatedAt: iso(input.now),
    tenantId: input.tenantId,
    axis: { start: iso(lo - pad), end: iso(hi + pad) },
    totals: {
      targets: targets.length,
      credentials: targets.reduce((n, t) => n + t.credentials.length, 0),
      findings: findings.length,
      bySeverity,
      byReason,
      rotations,
      removals,
      auditRecords: input.audit.length,
    },
    notes,
    auditSource: input.auditSource,
    omittedTargets: omitted,
    findings,
    targets,
  };
}
