/**
 * The sweep: findings over every credential Rollover may see, and the removals policy allows.
 *
 * Which keys are Rollover's: those it attached (the thumbprint on record in the binding's state
 * and the key's displayName marked `rollover:`) and those a Key Vault version of the target's
 * bindings backs. Only those can be orphans; any other valid key on a bound target belongs to a
 * person (`KeyUnmanaged`) and is never removed. Expired credentials stay removable.
 *
 * Removals pass an ordered list of named, pure guardrails; the first that holds a removal back
 * names the reason. Each removal also carries the path it takes — `removeKey` as the target (self
 * mode, a proof signed by a key of its binding) or a change as Rollover's identity where it owns
 * the target and managed mode is on — or is held as `RemovalNotPermitted`, naming what would allow
 * it. What passes them all is capped at `maxRemovals` per run, in a stable order (oldest expiry
 * first), and the rest is reported as deferred.
 */
import { sortVersions } from "./binding.js";
import { type BindingLike, currentThumbprints } from "./bound.js";
import {
  type InsightFacts,
  type InsightPolicy,
  insightFindings,
  isUnusedFinding,
  orderFindings,
} from "./insight.js";
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
  /** Unused, powerful and policy-restricted credentials (insight.ts); off when absent. */
  insight?: InsightPolicy;
}

export interface SweepInput {
  targets: readonly Target[];
  bindings: readonly BindingLike[];
  selfIds: readonly string[];
  /**
   * Thumbprints of every version of certificates whose rollover-* tags are malformed: keys of a
   * binding Rollover cannot read are never orphans.
   */
  protectedThumbprints?: ReadonlySet<string>;
  /**
   * When Rollover first saw each removal candidate on its target (`firstSeenKey`); a candidate
   * missing here is seen for the first time now. The grace window runs from first sight.
   */
  firstSeen?: ReadonlyMap<string, EpochMs>;
  /** When this run started: a credential first seen in this run is never removed in it. */
  runStartedAt?: EpochMs;
  /** What Rollover's identity may change: managed mode on, and the targets it owns (lower-case ids). */
  access?: { managedMode: boolean; owned: ReadonlySet<string> };
  /** Sign-ins, app management policies and privileges, as far as they could be read. */
  insight?: InsightFacts;
}

/** The key of a credential in `SweepInput.firstSeen`. */
export function firstSeenKey(targetId: string, keyId: string): string {
  return `${targetId.toLowerCase()}/${keyId.toLowerCase()}`;
}

/** The marker Rollover puts at the start of the displayName of every key it attaches. */
export const ROLLOVER_MARKER = "rollover:";

/**
 * How a removal is made, with the permission Rollover actually holds:
 * - `removeKey`: as the target itself, with a proof signed in Key Vault by a valid key of one of
 *   its bindings that is on the target (application-removekey: no permission needed to roll its
 *   own keys);
 * - `managed`: as Rollover's identity, owner of the target, with Application.ReadWrite.OwnedBy
 *   (managed mode on): re-read, guards again, then only that one credential changes.
 */
export type RemovalPath =
  | { kind: "removeKey"; vaultName: string; certificateName: string; signWith: string }
  | { kind: "managed" };

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
  reason: typeof Reason.RemoveExpired | typeof Reason.RemoveOrphaned | typeof Reason.RemoveUnused;
  finding: Finding;
  /** How it would be removed; undefined when no permission Rollover holds allows it. */
  path?: RemovalPath;
}

export interface HeldRemoval extends Removal {
  guard: ReasonCode;
  /** For RemovalNotPermitted: what would allow it. */
  allowWith?: string;
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
  /** How the removal would be made, or what would allow it. */
  path: RemovalPath | { kind: "none"; allowWith: string };
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
    name: "never a credential first seen less than the grace window ago, or in this run",
    reason: Reason.GuardGraceWindow,
    holds: ({ candidate, input, policy, now }) => {
      const f = candidate.finding;
      const seen = input.firstSeen?.get(firstSeenKey(f.targetId, f.keyId));
      return seen === undefined || seen >= (input.runStartedAt ?? now) || now - seen < policy.graceMs;
    },
  },
  {
    name: "never the last valid credential",
    reason: Reason.GuardLastValidCredential,
    holds: ({ candidate, now, validLeft }) => isValid(candidate.finding, now) && validLeft <= 1,
  },
  {
    name: "only with a permission Rollover holds",
    reason: Reason.RemovalNotPermitted,
    holds: ({ path }) => path.kind === "none",
  },
  {
    name: "at most maxRemovals per run",
    reason: Reason.GuardRemovalCap,
    holds: ({ policy, accepted }) => accepted >= policy.maxRemovals,
  },
];

/** What every finding says of its target. */
function findingBase(target: Target) {
  return {
    tenantId: target.tenantId,
    targetId: target.id,
    appId: target.appId,
    targetType: target.type,
    displayName: target.displayName,
  };
}

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
  attached: ReadonlySet<string> = new Set(),
  protectedThumbprints: ReadonlySet<string> = new Set(),
): Finding[] {
  const out: Finding[] = [];
  const base = findingBase(target);
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
    marked?: boolean;
  }> = [
    ...target.keyCredentials.map((k) => ({
      kind: "key" as const,
      keyId: k.keyId,
      start: k.start,
      end: k.end,
      marked: (k.displayName ?? "").startsWith(ROLLOVER_MARKER),
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
    if (c.kind === "key" && backed && now < c.end && !(c.thumbprint && backed.has(c.thumbprint))) {
      const mine =
        c.thumbprint !== undefined &&
        attached.has(c.thumbprint) &&
        c.marked === true &&
        !protectedThumbprints.has(c.thumbprint);
      out.push(
        mine
          ? f(
              Reason.KeyOrphaned,
              "Rollover attached this key and no Key Vault version of its bindings backs it any more",
            )
          : f(
              Reason.KeyUnmanaged,
              c.marked
                ? "marked rollover: but not on record as attached by a binding of this target: kept, never removed"
                : "a key Rollover did not attach and no binding backs (added by a person): kept, never removed",
            ),
      );
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
  const { backedByTarget, attachedByTarget, current } = currentThumbprints(input.bindings);
  const targets = [...input.targets].sort((a, b) => cmp(a.tenantId, b.tenantId) || cmp(a.id, b.id));
  const findings: Finding[] = [];
  const candidates: Array<{ removal: Removal; target: Target }> = [];
  for (const target of targets) {
    const id = target.id.toLowerCase();
    const fs = findingsFor(
      target,
      backedByTarget.get(id),
      policy,
      now,
      attachedByTarget.get(id),
      input.protectedThumbprints,
    );
    if (policy.insight && input.insight) {
      const base = findingBase(target);
      for (const f of insightFindings(target, input.insight, policy.insight, now)) fs.push({ ...base, ...f });
    }
    findings.push(...fs);
    const duplicated = new Set(fs.filter((f) => f.reason === Reason.DuplicateKeyId).map((f) => f.keyId));
    for (const f of fs) {
      if (duplicated.has(f.keyId)) continue; // ambiguous: a removal by keyId could hit either
      if (f.reason === Reason.CredentialExpired && (f.credential === "key" || policy.removeExpiredSecrets)) {
        candidates.push({ removal: { reason: Reason.RemoveExpired, finding: f }, target });
      } else if (f.reason === Reason.KeyOrphaned && now < f.end) {
        candidates.push({ removal: { reason: Reason.RemoveOrphaned, finding: f }, target });
      } else if (
        isUnusedFinding(f.reason) &&
        policy.insight?.removeUnused &&
        !candidates.some((c) => c.target === target && c.removal.finding.keyId === f.keyId) // orphaned too
      ) {
        candidates.push({ removal: { reason: Reason.RemoveUnused, finding: f }, target });
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
    const path = removalPath(removal.finding, target, input, now);
    const ctx: GuardContext = {
      candidate: removal,
      target,
      input,
      policy,
      now,
      path,
      boundCurrent: current,
      validLeft: validLeft.get(target.id) ?? 0,
      accepted: removals.length,
    };
    const guard = GUARDS.find((g) => g.holds(ctx));
    if (guard) {
      held.push({
        ...removal,
        guard: guard.reason,
        ...(guard.reason === Reason.RemovalNotPermitted && path.kind === "none"
          ? { allowWith: path.allowWith }
          : {}),
      });
      continue;
    }
    removals.push({ ...removal, path: path as RemovalPath });
    if (isValid(removal.finding, now)) validLeft.set(target.id, (validLeft.get(target.id) ?? 0) - 1);
  }
  return { findings: orderFindings(findings), removals, held };
}

/**
 * The path a removal takes with the permissions Rollover holds (docs/permissions.md), or what
 * would allow it. Self mode first: it needs no Graph permission of Rollover's own.
 */
export function removalPath(
  f: Finding,
  target: Target,
  input: Pick<SweepInput, "bindings" | "access">,
  now: EpochMs,
): RemovalPath | { kind: "none"; allowWith: string } {
  const id = target.id.toLowerCase();
  const bound = input.bindings
    .filter((b) => b.binding.targetId.toLowerCase() === id)
    .sort(
      (a, b) =>
        cmp(a.binding.vaultName, b.binding.vaultName) ||
        cmp(a.binding.certificateName, b.binding.certificateName),
    );
  if (f.credential === "key") {
    for (const b of bound) {
      if (b.binding.mode === "managed") continue;
      // A version of the binding, valid now, whose key is on the target, valid, and is not the
      // one being removed: removeKey's proof is signed with it (application-removekey).
      const signer = sortVersions(b.versions).find(
        (v) =>
          v.enabled &&
          v.notBefore <= now &&
          now < v.expires &&
          v.thumbprint !== f.thumbprint &&
          target.keyCredentials.some(
            (k) => k.thumbprint === v.thumbprint && k.keyId !== f.keyId && isValid(k, now),
          ),
      );
      if (signer) {
        return {
          kind: "removeKey",
          vaultName: b.binding.vaultName,
          certificateName: b.binding.certificateName,
          signWith: signer.version,
        };
      }
    }
  }
  if (input.access?.managedMode && input.access.owned.has(id)) return { kind: "managed" };
  const managed = input.access?.managedMode
    ? "Rollover's identity as an owner of this target (managed mode is on)"
    : "managed mode (ROLLOVER_MANAGED_MODE, Application.ReadWrite.OwnedBy) with Rollover's identity as an owner of this target";
  if (f.credential === "secret") {
    // removePassword takes Application.ReadWrite.OwnedBy (application-removepassword); an app has
    // no documented way to remove its own password without it.
    return { kind: "none", allowWith: managed };
  }
  return {
    kind: "none",
    allowWith:
      bound.length > 0
        ? `a valid certificate of this target's binding on the target (self mode signs removeKey with it), or ${managed}`
        : `a binding of this target in Key Vault (self mode), or ${managed}`,
  };
}

/**
 * The credentials that could be removed, before guards: what the sweep records first sight of and
 * checks ownership for. Pure.
 */
export function removalCandidates(input: SweepInput, policy: SweepPolicy, now: EpochMs): Finding[] {
  return planSweep(
    { ...input, firstSeen: new Map(), access: { managedMode: false, owned: new Set() } },
    { ...policy, maxRemovals: 0, allowList: [], denyList: [] },
    now,
  ).held.map((h) => h.finding);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
