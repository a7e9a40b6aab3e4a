/**
 * The sweep: findings over every credential Rollover may see, and the removals policy allows.
 *
 * Removals pass an ordered list of named, pure guardrails; the first that holds a removal back
 * names the reason. What passes them all is capped at `maxRemovals` per run, in a stable order
 * (oldest expiry first), and the rest is reported as deferred.
 */
import { type BindingLike, currentThumbprints } from "./bound.js";
import type { Target } from "./model.js";
import { Reason, type ReasonCode } from "./reasons.js";
import type { EpochMs } from "./time.js";

export interface SweepPolicy {
  mode: "report" | "remove";
  maxRemovals: number;
  graceMs: number;
  maxLifetimeMs: number;
  expiringWithinMs: number;
  requireCertificates: boolean;
  removeExpiredSecrets: boolean;
  allowList: readonly string[];
  denyList: readonly string[];
}

export interface SweepInput {
  targets: readonly Target[];
  bindings: readonly BindingLike[];
  selfIds: readonly string[];
}

export type CredentialKind = "key" | "secret";

export interface Finding {
  reason: ReasonCode;
  tenantId: string;
  targetId: string;
  appId: string;
  targetType: Target["type"];
  displayName: string;
  credential: CredentialKind;
  keyId: string;
  thumbprint?: string;
  start: EpochMs;
  end: EpochMs;
  message: string;
}

export interface Removal {
  reason: typeof Reason.RemoveExpired | typeof Reason.RemoveOrphaned;
  finding: Finding;
}

export interface HeldRemoval extends Removal {
  guard: ReasonCode;
}

export interface SweepPlan {
  findings: Finding[];
  /** Removals to carry out (in remove mode) — never more than `maxRemovals`. */
  removals: Removal[];
  /** Removals a guardrail held back, with the guard's reason. */
  held: HeldRemoval[];
}

/** What a guardrail sees: one candidate, the plan so far, and the world. */
export interface GuardContext {
  candidate: Removal;
  target: Target;
  input: SweepInput;
  policy: SweepPolicy;
  now: EpochMs;
  boundCurrent: ReadonlySet<string>;
  /** Valid credentials this target still has, after removals already accepted in this plan. */
  validLeft: number;
  accepted: number;
}

export interface Guard {
  name: string;
  reason: ReasonCode;
  /** True when the guard holds the removal back. */
  holds(ctx: GuardContext): boolean;
}

const DAYS = (ms: number) => Math.round(ms / 86_400_000);

/** The guardrails, in order. The first that holds names the reason. */
export const GUARDS: readonly Guard[] = [
  {
    name: "never Rollover's own identity",
    reason: Reason.GuardSelfIdentity,
    holds: ({ target, input }) => input.selfIds.includes(target.id) || input.selfIds.includes(target.appId),
  },
  {
    name: "deny list",
    reason: Reason.GuardDenyList,
    holds: ({ target, policy }) => inList(policy.denyList, target),
  },
  {
    name: "allow list",
    reason: Reason.GuardNotAllowListed,
    holds: ({ target, policy }) => policy.allowList.length > 0 && !inList(policy.allowList, target),
  },
  {
    name: "never a binding's current key",
    reason: Reason.GuardBindingCurrentKey,
    holds: ({ candidate, boundCurrent }) =>
      candidate.finding.thumbprint !== undefined && boundCurrent.has(candidate.finding.thumbprint),
  },
  {
    name: "never a key younger than the grace window",
    reason: Reason.GuardGraceWindow,
    holds: ({ candidate, policy, now }) => now - candidate.finding.start < policy.graceMs,
  },
  {
    name: "never the last valid credential",
    reason: Reason.GuardLastValidCredential,
    holds: ({ candidate, now, validLeft }) => isValid(candidate.finding, now) && validLeft <= 1,
  },
  {
    name: "at most maxRemovals per run",
    reason: Reason.GuardRemovalCap,
    holds: ({ policy, accepted }) => accepted >= policy.maxRemovals,
  },
];

function inList(list: readonly string[], target: Target): boolean {
  const ids = [target.id.toLowerCase(), target.appId.toLowerCase()];
  return list.some((x) => ids.includes(x.toLowerCase()));
}

function isValid(c: { start: EpochMs; end: EpochMs }, now: EpochMs): boolean {
  return c.start <= now && now < c.end;
}

/** Findings for one target. */
export function findingsFor(
  target: Target,
  backed: ReadonlySet<string> | undefined,
  policy: SweepPolicy,
  now: EpochMs,
): Finding[] {
  const out: Finding[] = [];
  const base = {
    tenantId: target.tenantId,
    targetId: target.id,
    appId: target.appId,
    targetType: target.type,
    displayName: target.displayName,
  };
  const seen = new Map<string, number>();
  for (const c of [...target.keyCredentials, ...target.passwordCredentials]) {
    seen.set(c.keyId, (seen.get(c.keyId) ?? 0) + 1);
  }
  const creds: Array<{
    kind: CredentialKind;
    keyId: string;
    start: EpochMs;
    end: EpochMs;
    thumbprint?: string;
  }> = [
    ...target.keyCredentials.map((k) => ({
      kind: "key" as const,
      keyId: k.keyId,
      start: k.start,
      end: k.end,
      ...(k.thumbprint ? { thumbprint: k.thumbprint } : {}),
    })),
    ...target.passwordCredentials.map((p) => ({
      kind: "secret" as const,
      keyId: p.keyId,
      start: p.start,
      end: p.end,
    })),
  ];
  for (const c of creds) {
    const f = (reason: ReasonCode, message: string): Finding => ({
      ...base,
      reason,
      credential: c.kind,
      keyId: c.keyId,
      ...(c.thumbprint ? { thumbprint: c.thumbprint } : {}),
      start: c.start,
      end: c.end,
      message,
    });
    if ((seen.get(c.keyId) ?? 0) > 1) {
      out.push(f(Reason.DuplicateKeyId, `keyId ${c.keyId} appears more than once on this object`));
    }
    if (now >= c.end) {
      out.push(
        f(
          Reason.CredentialExpired,
          `${c.kind === "key" ? "certificate" : "secret"} expired ${DAYS(now - c.end)} days ago`,
        ),
      );
    } else if (!backed && c.end - now <= policy.expiringWithinMs) {
      out.push(f(Reason.ExpiringUnbound, `expires in ${DAYS(c.end - now)} days and no binding renews it`));
    }
    if (c.kind === "key" && backed && c.thumbprint !== undefined && !backed.has(c.thumbprint)) {
      out.push(f(Reason.KeyOrphaned, "no Key Vault version of this target's bindings backs this key"));
    }
    if (c.end - c.start > policy.maxLifetimeMs) {
      out.push(
        f(
          Reason.CredentialOverLongLived,
          `valid for ${DAYS(c.end - c.start)} days; policy allows ${DAYS(policy.maxLifetimeMs)}`,
        ),
      );
    }
    if (c.kind === "secret" && policy.requireCertificates) {
      out.push(f(Reason.SecretNotAllowed, "a client secret; policy requires certificates"));
    }
    // A bound target that still holds a valid secret is moving off it (rollover migrate-secret):
    // reported every run until its secrets are gone; never removed by the sweep.
    if (c.kind === "secret" && backed && now < c.end) {
      out.push(
        f(
          Reason.SecretOnBoundTarget,
          "a client secret on a target that has a certificate binding; `rollover migrate-secret` says whether the service has switched and removes the secret once it has",
        ),
      );
    }
  }
  return out;
}

/** Plans a sweep. Pure and deterministic: the same input, policy and clock give the same plan. */
export function planSweep(input: SweepInput, policy: SweepPolicy, now: EpochMs): SweepPlan {
  const { backedByTarget, current } = currentThumbprints(input.bindings);
  const targets = [...input.targets].sort((a, b) => cmp(a.tenantId, b.tenantId) || cmp(a.id, b.id));
  const findings: Finding[] = [];
  const candidates: Array<{ removal: Removal; target: Target }> = [];
  for (const target of targets) {
    const fs = findingsFor(target, backedByTarget.get(target.id.toLowerCase()), policy, now);
    findings.push(...fs);
    const duplicated = new Set(fs.filter((f) => f.reason === Reason.DuplicateKeyId).map((f) => f.keyId));
    for (const f of fs) {
      if (duplicated.has(f.keyId)) continue; // ambiguous: a removal by keyId could hit either
      if (f.reason === Reason.CredentialExpired && (f.credential === "key" || policy.removeExpiredSecrets)) {
        candidates.push({ removal: { reason: Reason.RemoveExpired, finding: f }, target });
      } else if (f.reason === Reason.KeyOrphaned && now < f.end) {
        candidates.push({ removal: { reason: Reason.RemoveOrphaned, finding: f }, target });
      }
    }
  }
  // Oldest expiry first, so the cap spends removals where they matter most; ties broken by ids.
  candidates.sort(
    (a, b) =>
      a.removal.finding.end - b.removal.finding.end ||
      cmp(a.removal.finding.targetId, b.removal.finding.targetId) ||
      cmp(a.removal.finding.keyId, b.removal.finding.keyId),
  );
  const validLeft = new Map<string, number>();
  for (const t of targets) {
    validLeft.set(
      t.id,
      [...t.keyCredentials, ...t.passwordCredentials].filter((c) => isValid(c, now)).length,
    );
  }
  const removals: Removal[] = [];
  const held: HeldRemoval[] = [];
  for (const { removal, target } of candidates) {
    const ctx: GuardContext = {
      candidate: removal,
      target,
      input,
      policy,
      now,
      boundCurrent: current,
      validLeft: validLeft.get(target.id) ?? 0,
      accepted: removals.length,
    };
    const guard = GUARDS.find((g) => g.holds(ctx));
    if (guard) {
      held.push({ ...removal, guard: guard.reason });
      continue;
    }
    removals.push(removal);
    if (isValid(removal.finding, now)) validLeft.set(target.id, (validLeft.get(target.id) ?? 0) - 1);
  }
  return { findings, removals, held };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
