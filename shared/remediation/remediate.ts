/**
 * What remediateAlert does with a parsed alert:
 *
 * - `Resolved` → nothing changes;
 * - `rotate` → each binding named by the target (its certificate name, or every binding of the
 *   target object id) is reconciled, never forced: whether to renew is decided from Key Vault's
 *   own data, at most one renewal per binding per ROLLOVER_RENEW_BUFFER_HOURS, and a step that
 *   failed ROLLOVER_MAX_STEP_FAILURES times in a row is not tried again on its own;
 * - `sweep` → the sweep runs on the target objects alone (report, or remove what policy and the
 *   guardrails allow, per ROLLOVER_SWEEP_MODE).
 *
 * The answer's status tells the Action Group what to do: 2xx done, 4xx final, 503 try again
 * (a binding was locked by another run or a step failed).
 */
import type { AuditSink } from "../audit/events.js";
import { listBindings } from "../azure/bindings.js";
import type { VaultEdge } from "../azure/keyvault.js";
import type { Binding, Target, TargetType } from "../core/model.js";
import { Reason } from "../core/reasons.js";
import { oneLine } from "../text.js";
import type { BindingOutcome, BindingRef } from "../rotation/engine.js";
import { emptySummary, gatherBindings, type SweepDeps, type SweepSummary, sweepPage } from "../sweep/run.js";
import type { ParsedAlert } from "./alert.js";

/** Reason codes of the alert edge (entries of the registry in shared/core/reasons.ts). */
export const AlertReason = {
  AlertResolved: Reason.AlertResolved,
  AlertNoAction: Reason.AlertNoAction,
  AlertTargetUnknown: Reason.AlertTargetUnknown,
  AlertRotate: Reason.AlertRotate,
  AlertSweep: Reason.AlertSweep,
} as const;

export interface RemediationDeps {
  vaults: ReadonlyMap<string, VaultEdge>;
  audit: AuditSink;
  reconcile(ref: BindingRef): Promise<BindingOutcome>;
  /** Sweep dependencies (built only for `sweep`). */
  sweepDeps(): SweepDeps;
  /** Reads a target by object id, trying the given types in order. */
  readTarget(id: string, types: readonly TargetType[], tenantId?: string): Promise<Target | undefined>;
}

export interface RemediationResult {
  status: number;
  body: {
    result: "noChange" | "rotated" | "swept" | "retry" | "unknownTarget";
    reason: string;
    message: string;
    outcomes?: Array<{ certificate: string; result: string; reason: string }>;
    sweep?: SweepSummary;
  };
}

/** The valid bindings (malformed tags name no target an alert could mean). */
async function validBindings(vaults: ReadonlyMap<string, VaultEdge>): Promise<Binding[]> {
  const out: Binding[] = [];
  for await (const { parsed } of listBindings(vaults.values())) {
    if (parsed.ok) out.push(parsed.binding);
  }
  return out;
}

function matches(b: Binding, target: string): boolean {
  const t = target.toLowerCase();
  return b.certificateName.toLowerCase() === t || b.targetId.toLowerCase() === t;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function remediate(alert: ParsedAlert, deps: RemediationDeps): Promise<RemediationResult> {
  const ctx = `alert ${oneLine(alert.alertRule ?? alert.alertId, 120)}`;
  if (alert.monitorCondition === "Resolved") {
    const message = `${ctx} resolved: nothing to do`;
    deps.audit.emit({ action: "alert", outcome: "skipped", reason: AlertReason.AlertResolved, message });
    return { status: 200, body: { result: "noChange", reason: AlertReason.AlertResolved, message } };
  }
  if (!alert.action || alert.targets.length === 0) {
    const what = !alert.action ? "rollover-action" : "rollover-target";
    const message = `${ctx}: no ${what} custom property or dimension`;
    deps.audit.emit({ action: "alert", outcome: "skipped", reason: AlertReason.AlertNoAction, message });
    return { status: 400, body: { result: "noChange", reason: AlertReason.AlertNoAction, message } };
  }
  const bindings = await validBindings(deps.vaults);
  if (alert.action === "rotate") {
    const chosen = bindings.filter((b) => alert.targets.some((t) => matches(b, t)));
    if (chosen.length === 0) {
      const message = `${ctx}: no binding for ${alert.targets.map((t) => oneLine(t, 80)).join(", ")}`;
      deps.audit.emit({
        action: "alert",
        outcome: "skipped",
        reason: AlertReason.AlertTargetUnknown,
        message,
      });
      return {
        status: 404,
        body: { result: "unknownTarget", reason: AlertReason.AlertTargetUnknown, message },
      };
    }
    deps.audit.emit({
      action: "alert",
      outcome: "succeeded",
      reason: AlertReason.AlertRotate,
      message: `${ctx}: rotate ${chosen.map((b) => b.certificateName).join(", ")}`,
    });
    const outcomes: BindingOutcome[] = [];
    for (const b of chosen) {
      outcomes.push(await deps.reconcile({ vaultName: b.vaultName, certificateName: b.certificateName }));
    }
    const retry = outcomes.some((o) => o.result === "locked" || o.result === "failed");
    const summary = outcomes.map((o) => ({
      certificate: o.ref.certificateName,
      result: o.result,
      reason: o.reason,
    }));
    return {
      status: retry ? 503 : 200,
      body: {
        result: retry ? "retry" : "rotated",
        reason: AlertReason.AlertRotate,
        message: summary.map((s) => `${s.certificate}: ${s.result} (${s.reason})`).join("; "),
        outcomes: summary,
      },
    };
  }
  // sweep: the named objects (object ids, or the targets of the named bindings)
  const targets: Target[] = [];
  const seen = new Set<string>();
  for (const name of alert.targets) {
    const bound = bindings.filter((b) => matches(b, name));
    const wanted: Array<{ id: string; types: TargetType[]; tenantId?: string }> = bound.length
      ? bound.map((b) => ({
          id: b.targetId,
          types: [b.targetType],
          ...(b.tenantId ? { tenantId: b.tenantId } : {}),
        }))
      : GUID.test(name)
        ? [{ id: name, types: ["application", "servicePrincipal"] }]
        : [];
    for (const w of wanted) {
      if (seen.has(w.id.toLowerCase())) continue;
      seen.add(w.id.toLowerCase());
      const t = await deps.readTarget(w.id, w.types, w.tenantId);
      if (t) targets.push(t);
    }
  }
  if (targets.length === 0) {
    const message = `${ctx}: no object for ${alert.targets.map((t) => oneLine(t, 80)).join(", ")}`;
    deps.audit.emit({ action: "alert", outcome: "skipped", reason: AlertReason.AlertTargetUnknown, message });
    return {
      status: 404,
      body: { result: "unknownTarget", reason: AlertReason.AlertTargetUnknown, message },
    };
  }
  deps.audit.emit({
    action: "alert",
    outcome: "succeeded",
    reason: AlertReason.AlertSweep,
    message: `${ctx}: sweep ${targets.map((t) => t.id).join(", ")}`,
  });
  const sweep = deps.sweepDeps();
  const summary = emptySummary();
  await sweepPage(sweep, await gatherBindings(sweep.vaults, sweep.state), targets, summary);
  return {
    status: 200,
    body: {
      result: "swept",
      reason: AlertReason.AlertSweep,
      message: `swept ${targets.length} object(s): ${summary.removed} removed, ${summary.reportedOnly} reported, ${summary.deferred} deferred`,
      sweep: summary,
    },
  };
}
