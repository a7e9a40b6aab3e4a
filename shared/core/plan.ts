/**
 * The whole-tenant plan `rollover plan` prints: the next step of every binding and the sweep.
 */
import { type BindingPlan, type BindingPolicy, planBinding } from "./binding.js";
import type { BindingLike } from "./bound.js";
import { DEFAULT_HIGH_PRIVILEGE_PERMISSIONS } from "./insight.js";
import { EMPTY_STATE } from "./model.js";
import type { ReasonCode } from "./reasons.js";
import type { RenewalPolicy } from "./renewal.js";
import { type SnapshotIssue, stateKey, type TenantSnapshot } from "./snapshot.js";
import { planSweep, type SweepPlan, type SweepPolicy } from "./sweep.js";
import { DAY, type EpochMs, HOUR } from "./time.js";

export interface Policies {
  binding: BindingPolicy;
  sweep: SweepPolicy;
}

export interface BindingEntry {
  vaultName: string;
  certificateName: string;
  targetId?: string;
  targetDisplayName?: string;
  /** A plan, or a refusal of the binding's tags. */
  plan?: BindingPlan;
  refusal?: { reason: ReasonCode; message: string };
}

export interface TenantPlan {
  now: EpochMs;
  bindings: BindingEntry[];
  sweep: SweepPlan;
  issues: SnapshotIssue[];
}

/** Settings → policies (the subset of `Config` the core needs, by name). */
export function policiesFrom(s: {
  renewBeforeDays: number;
  renewAtLifetimeFraction: number;
  renewBufferHours: number;
  graceHours: number;
  managedMode: boolean;
  maxStepFailures?: number;
  sweepMode: "report" | "remove";
  maxRemovalsPerRun: number;
  maxCredentialLifetimeDays: number;
  expiringWithinDays: number;
  requireCertificates: boolean;
  removeExpiredSecrets: boolean;
  allowList?: readonly string[] | undefined;
  denyList?: readonly string[] | undefined;
  unusedAfterDays?: number;
  removeUnused?: boolean;
  highPrivilegePermissions?: readonly string[];
}): Policies {
  const renewal: RenewalPolicy = {
    renewBeforeDays: s.renewBeforeDays,
    lifetimeFraction: s.renewAtLifetimeFraction,
    bufferMs: s.renewBufferHours * HOUR,
  };
  const graceMs = s.graceHours * HOUR;
  return {
    binding: {
      renewal,
      graceMs,
      managedModeAllowed: s.managedMode,
      ...(s.maxStepFailures !== undefined ? { maxStepFailures: s.maxStepFailures } : {}),
    },
    sweep: {
      mode: s.sweepMode,
      maxRemovals: s.maxRemovalsPerRun,
      graceMs,
      maxLifetimeMs: s.maxCredentialLifetimeDays * DAY,
      expiringWithinMs: s.expiringWithinDays * DAY,
      requireCertificates: s.requireCertificates,
      removeExpiredSecrets: s.removeExpiredSecrets,
      allowList: s.allowList ?? [],
      denyList: s.denyList ?? [],
      insight: {
        unusedAfterMs: (s.unusedAfterDays ?? 90) * DAY,
        removeUnused: s.removeUnused ?? false,
        highPrivilegePermissions: s.highPrivilegePermissions ?? DEFAULT_HIGH_PRIVILEGE_PERMISSIONS,
        maxLifetimeMs: s.maxCredentialLifetimeDays * DAY,
      },
    },
  };
}

export function planTenant(
  snapshot: TenantSnapshot,
  policies: Policies,
  now: EpochMs,
  opts: { managedMode?: boolean } = {},
): TenantPlan {
  const byId = new Map(snapshot.targets.map((t) => [t.id, t]));
  const bindings: BindingEntry[] = [];
  const bound: BindingLike[] = [];
  const protectedThumbprints = new Set<string>();
  for (const c of snapshot.certificates) {
    if (c.binding === undefined) continue;
    if (!c.binding.ok) {
      for (const v of c.versions) protectedThumbprints.add(v.thumbprint);
      bindings.push({
        vaultName: c.vaultName,
        certificateName: c.name,
        refusal: { reason: c.binding.reason, message: c.binding.message },
      });
      continue;
    }
    const b = c.binding.binding;
    const target = byId.get(b.targetId);
    const attached = snapshot.state.get(stateKey(c.vaultName, c.name))?.attached;
    bound.push({ binding: b, versions: c.versions, ...(attached ? { attached } : {}) });
    const plan = planBinding(
      {
        binding: b,
        versions: c.versions,
        policy: c.policy,
        target,
        state: snapshot.state.get(stateKey(c.vaultName, c.name)) ?? EMPTY_STATE,
        renewalPending: c.renewalPending,
        selfIds: snapshot.selfIds,
      },
      policies.binding,
      now,
    );
    bindings.push({
      vaultName: c.vaultName,
      certificateName: c.name,
      targetId: b.targetId,
      ...(target ? { targetDisplayName: target.displayName } : {}),
      plan,
    });
  }
  const sweep = planSweep(
    {
      targets: snapshot.targets,
      bindings: bound,
      selfIds: snapshot.selfIds,
      protectedThumbprints,
      firstSeen: snapshot.firstSeen,
      runStartedAt: now,
      access: { managedMode: opts.managedMode === true, owned: new Set(snapshot.owned) },
    },
    policies.sweep,
    now,
  );
  return { now, bindings, sweep, issues: snapshot.issues };
}
