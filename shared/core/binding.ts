/**
 * Bindings and their state machine.
 *
 *   pending ──attach──▶ attached ──verify──▶ verified ──(grace)──▶ active
 *   (new KV version)    (key on target)     (token with new key)   (previous key retired)
 *
 * `planBinding` looks at what was observed (Key Vault versions, the target's keyCredentials,
 * the state record) and returns the one next step with a reason code. Each step is idempotent:
 * after the engine acts, it gathers again and asks for the next step, until `none` or `wait`.
 */
import type {
  Binding,
  BindingMode,
  CertificatePolicySummary,
  CertificateVersion,
  KeyCredential,
  Phase,
  StateRecord,
  Target,
  TargetType,
} from "./model.js";
import { TARGET_TYPES } from "./model.js";
import { OWN_WRITE_TRUST_MS, withOwnWrites } from "./own-writes.js";
import { isTrustedVersion } from "./provenance.js";
import { Reason, type ReasonCode } from "./reasons.js";
import { renewalPolicyRefusal } from "./insight.js";
import { type RenewalPolicy, renewalDue } from "./renewal.js";
import type { EpochMs } from "./time.js";

export const TAG_TARGET = "rollover-target";
export const TAG_TARGET_TYPE = "rollover-target-type";
export const TAG_TENANT = "rollover-tenant";
export const TAG_MODE = "rollover-mode";
export const TAG_CLIENT_ID = "rollover-client-id";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type BindingParse =
  | { ok: true; binding: Binding }
  | {
      ok: false;
      reason: typeof Reason.BindingTagsMissing | typeof Reason.BindingTagsInvalid;
      message: string;
    };

/**
 * Reads a binding from a certificate's tags. A certificate with no `rollover-*` tag at all is
 * simply not a binding (`undefined`); one with some but not valid ones is refused with a reason.
 */
export function bindingFromTags(
  vaultName: string,
  certificateName: string,
  tags: Record<string, string> | undefined,
): BindingParse | undefined {
  const t = tags ?? {};
  const has = Object.keys(t).some((k) => k.toLowerCase().startsWith("rollover-"));
  if (!has) return undefined;
  const get = (name: string) => {
    const key = Object.keys(t).find((k) => k.toLowerCase() === name);
    return key === undefined ? undefined : t[key]?.trim();
  };
  const target = get(TAG_TARGET);
  if (!target) {
    return { ok: false, reason: Reason.BindingTagsMissing, message: `tag ${TAG_TARGET} is missing or empty` };
  }
  const problems: string[] = [];
  if (!GUID.test(target)) problems.push(`${TAG_TARGET} must be an object id (GUID), got "${target}"`);
  const typeRaw = get(TAG_TARGET_TYPE) ?? "application";
  const targetType = TARGET_TYPES.find((x) => x.toLowerCase() === typeRaw.toLowerCase());
  if (!targetType)
    problems.push(`${TAG_TARGET_TYPE} must be one of ${TARGET_TYPES.join(", ")}, got "${typeRaw}"`);
  const tenant = get(TAG_TENANT);
  if (tenant !== undefined && tenant !== "" && !GUID.test(tenant)) {
    problems.push(`${TAG_TENANT} must be a tenant id (GUID), got "${tenant}"`);
  }
  const clientId = get(TAG_CLIENT_ID);
  if (clientId !== undefined && clientId !== "" && !GUID.test(clientId)) {
    problems.push(`${TAG_CLIENT_ID} must be the target's client id (GUID), got "${clientId}"`);
  }
  const modeRaw = (get(TAG_MODE) ?? "auto").toLowerCase();
  const mode = (["self", "managed", "auto"] as const).find((m) => m === modeRaw);
  if (!mode) problems.push(`${TAG_MODE} must be self or managed, got "${modeRaw}"`);
  if (problems.length > 0)
    return { ok: false, reason: Reason.BindingTagsInvalid, message: problems.join("; ") };
  return {
    ok: true,
    binding: {
      vaultName,
      certificateName,
      targetId: target.toLowerCase(),
      targetType: targetType as TargetType,
      ...(tenant ? { tenantId: tenant.toLowerCase() } : {}),
      ...(clientId ? { clientId: clientId.toLowerCase() } : {}),
      mode: mode as BindingMode,
    },
  };
}

/** Everything observed about one binding, gathered by the engine. */
export interface BindingObservation {
  binding: Binding;
  /** All versions of the Key Vault certificate. */
  versions: CertificateVersion[];
  policy: CertificatePolicySummary;
  /** The target as Graph returned it; undefined when it does not exist. */
  target: Target | undefined;
  state: StateRecord;
  /** Key Vault is issuing a new version right now (a pending certificate operation). */
  renewalPending: boolean;
  /** Object ids and app ids of Rollover's own identity. */
  selfIds: readonly string[];
  /**
   * The target lives in another tenant than Rollover's identity: only self mode can change it
   * (Rollover's identity has no standing there).
   */
  foreignTenant?: boolean;
  /** The target's app management policy limit on certificate lifetime (asymmetricKeyLifetime), when known. */
  keyLifetimeLimitMs?: number;
}

export interface BindingPolicy {
  renewal: RenewalPolicy;
  graceMs: number;
  managedModeAllowed: boolean;
  /** A step that failed this many times in a row is not tried again on its own (default 5). */
  maxStepFailures?: number;
  /** How long Rollover trusts its own accepted write over a read that does not show it (own-writes.ts). */
  ownWriteTrustMs?: number;
}

export const DEFAULT_MAX_STEP_FAILURES = 5;

export type AttachMode = "self" | "managed";

export type BindingStep =
  | { kind: "renew"; reason: ReasonCode; version: string }
  | { kind: "attach"; reason: ReasonCode; version: string; mode: AttachMode; signWith?: string }
  | { kind: "verify"; reason: ReasonCode; version: string }
  | {
      kind: "retire";
      reason: ReasonCode;
      keyId: string;
      thumbprint: string;
      mode: AttachMode;
      signWith?: string;
    }
  | { kind: "wait"; reason: ReasonCode; until?: EpochMs }
  | { kind: "refuse"; reason: ReasonCode; message: string }
  | { kind: "none"; reason: ReasonCode };

export interface BindingPlan {
  phase: Phase;
  step: BindingStep;
  /** The newest enabled version, if any. */
  current?: CertificateVersion;
}

/** Newest first: by created time, then notBefore, then version id, so the order is total. */
export function sortVersions(versions: readonly CertificateVersion[]): CertificateVersion[] {
  return [...versions].sort(
    (a, b) =>
      b.created - a.created ||
      b.notBefore - a.notBefore ||
      (a.version < b.version ? 1 : a.version > b.version ? -1 : 0),
  );
}

export function isValidAt(c: { start: EpochMs; end: EpochMs }, now: EpochMs): boolean {
  return c.start <= now && now < c.end;
}

function keyFor(target: Target, thumbprint: string): KeyCredential | undefined {
  return target.keyCredentials.find((k) => k.thumbprint === thumbprint);
}

/**
 * Picks how to change the target's keys: self mode when a key on the target is valid now and
 * backed by a version of this binding in Key Vault (Rollover signs the proof with it), managed
 * mode otherwise if allowed (or if the binding asks for it).
 */
export function chooseMode(
  obs: BindingObservation,
  policy: BindingPolicy,
  now: EpochMs,
  exclude?: string,
): { mode: AttachMode; signWith?: string } | undefined {
  const target = obs.target;
  if (!target) return undefined;
  if (obs.binding.mode !== "managed") {
    const signer = sortVersions(obs.versions).find(
      (v) =>
        v.enabled &&
        v.thumbprint !== exclude &&
        v.notBefore <= now &&
        now < v.expires &&
        target.keyCredentials.some((k) => k.thumbprint === v.thumbprint && isValidAt(k, now)),
    );
    if (signer) return { mode: "self", signWith: signer.version };
    if (obs.binding.mode === "self") return undefined;
  }
  if (obs.foreignTenant) return undefined;
  // Managed mode changes a target as Rollover's identity with Application.ReadWrite.OwnedBy, which
  // does not cover agent identity blueprints: their addKey/removeKey/PATCH take only
  // AgentIdentityBlueprint.AddRemoveCreds.All or .ReadWrite.All (agentidentityblueprint-addkey
  // and -update permissions), which Rollover's identity is never granted. Blueprints: self only.
  if (target.type === "agentIdentityBlueprint") return undefined;
  return policy.managedModeAllowed || obs.binding.mode === "managed" ? { mode: "managed" } : undefined;
}

/**
 * The next step for one binding. Pure: same observation and clock, same step. The target is seen
 * with Rollover's own recent writes applied (own-writes.ts), so a stale read repeats nothing.
 */
export function planBinding(observed: BindingObservation, policy: BindingPolicy, now: EpochMs): BindingPlan {
  const trustMs = policy.ownWriteTrustMs ?? OWN_WRITE_TRUST_MS;
  const own = withOwnWrites(observed.target, observed.state.writes, now, trustMs);
  const obs: BindingObservation = { ...observed, target: own.target };
  const plan = planLimited(obs, policy, now);
  // A managed-mode change rewrites the whole collection from a read: never from a read that does
  // not show Rollover's own last change yet (it would undo it). Wait until it shows.
  const step = plan.step;
  if (
    (step.kind === "attach" || step.kind === "retire") &&
    step.mode === "managed" &&
    own.unconfirmed.length > 0
  ) {
    const until = Math.min(...own.unconfirmed.map((w) => w.at)) + trustMs;
    return { ...plan, step: { kind: "wait", reason: Reason.ReplicationPending, until } };
  }
  return plan;
}

/**
 * Whether Key Vault's pending operation can change the plan, so it must be read: only when no
 * version is usable (wait for the one being issued, or refuse) or a renewal is due (wait for the
 * one in progress, or renew) — now or within `marginMs`, so a renewal that falls due while the
 * binding is being read is never started over an operation Key Vault still runs.
 */
export function operationMatters(
  obs: Pick<BindingObservation, "versions" | "policy">,
  policy: BindingPolicy,
  now: EpochMs,
  marginMs = 60_000,
): boolean {
  const current = sortVersions(obs.versions).find((v) => v.enabled && v.expires > v.notBefore);
  if (!current) return true;
  const due = (t: EpochMs) => renewalDue(current, t, policy.renewal, obs.policy.lifetimeTriggers).due;
  return due(now) || due(now + marginMs);
}

/** planSeen, with the step failure limit: the step a binding failed N times in a row is refused. */
function planLimited(obs: BindingObservation, policy: BindingPolicy, now: EpochMs): BindingPlan {
  const plan = planSeen(obs, policy, now);
  const failed = obs.state.failedStep;
  const limit = policy.maxStepFailures ?? DEFAULT_MAX_STEP_FAILURES;
  if (failed === undefined || obs.state.attempts < limit) return plan;
  // The step the binding would take now, back-off aside.
  const { nextAttemptAt: _n, ...rest } = obs.state;
  const next = obs.state.nextAttemptAt !== undefined ? planSeen({ ...obs, state: rest }, policy, now) : plan;
  if (next.step.kind !== failed) return plan;
  return {
    ...next,
    step: {
      kind: "refuse",
      reason: Reason.StepFailureLimit,
      message: `${failed} failed ${obs.state.attempts} times in a row (last: ${obs.state.lastError ?? "unknown"}); not retried on its own`,
    },
  };
}

function planSeen(obs: BindingObservation, policy: BindingPolicy, now: EpochMs): BindingPlan {
  const target = obs.target;
  if (!target) {
    return {
      phase: "pending",
      step: {
        kind: "refuse",
        reason: Reason.TargetNotFound,
        message: `target ${obs.binding.targetId} not found`,
      },
    };
  }
  if (obs.selfIds.includes(target.id) || obs.selfIds.includes(target.appId)) {
    return {
      phase: "pending",
      step: {
        kind: "refuse",
        reason: Reason.TargetIsSelf,
        message: "the binding names Rollover's own identity",
      },
    };
  }
  const usable = sortVersions(obs.versions).filter((v) => v.enabled && v.expires > v.notBefore);
  const current = usable[0];
  if (!current) {
    if (obs.renewalPending)
      return { phase: "pending", step: { kind: "wait", reason: Reason.RenewalInProgress } };
    return {
      phase: "pending",
      step: { kind: "refuse", reason: Reason.NoUsableVersion, message: "no enabled version in Key Vault" },
    };
  }
  if (obs.state.nextAttemptAt !== undefined && now < obs.state.nextAttemptAt) {
    return {
      phase: phaseOf(obs, current),
      current,
      step: { kind: "wait", reason: Reason.BackingOff, until: obs.state.nextAttemptAt },
    };
  }

  // 1. Renewal of the newest version comes first: a due certificate is replaced before anything else.
  // Decided from Key Vault's data alone (dates, the policy's lifetime actions), never an event.
  const due = renewalDue(current, now, policy.renewal, obs.policy.lifetimeTriggers);
  if (due.due) {
    if (obs.renewalPending) {
      return {
        phase: phaseOf(obs, current),
        current,
        step: { kind: "wait", reason: Reason.RenewalInProgress },
      };
    }
    if (!obs.policy.renewable) {
      return {
        phase: phaseOf(obs, current),
        current,
        step: {
          kind: "refuse",
          reason: Reason.RenewalNotSupported,
          message: `issuer "${obs.policy.issuerName}" needs a manual merge; Key Vault cannot renew it alone`,
        },
      };
    }
    // At most one renewal per buffer window, whatever asked for it.
    const last = obs.state.renewRequestedAt;
    if (last !== undefined && now - last < policy.renewal.bufferMs && now >= last) {
      return {
        phase: phaseOf(obs, current),
        current,
        step: { kind: "wait", reason: Reason.RecentlyRenewed, until: last + policy.renewal.bufferMs },
      };
    }
    const wouldRefuse = renewalPolicyRefusal(obs.policy.validityMonths, obs.keyLifetimeLimitMs, now);
    if (wouldRefuse) {
      return {
        phase: phaseOf(obs, current),
        current,
        step: { kind: "refuse", reason: Reason.PolicyWouldRefuse, message: wouldRefuse },
      };
    }
    return {
      phase: phaseOf(obs, current),
      current,
      step: { kind: "renew", reason: due.reason, version: current.version },
    };
  }

  // 2. The newest version must be on the target.
  if (current.notBefore > now) {
    return {
      phase: "pending",
      current,
      step: { kind: "wait", reason: Reason.NotYetValid, until: current.notBefore },
    };
  }
  if (!keyFor(target, current.thumbprint)) {
    // Only versions Rollover caused Key Vault to issue, or that a person adopted, go on a target:
    // anyone who can import into the vault could otherwise make their own key the target's.
    if (!isTrustedVersion(obs.state, current.version)) {
      return {
        phase: "pending",
        current,
        step: {
          kind: "refuse",
          reason: Reason.VersionNotIssuedByRollover,
          message: `version ${current.version} was not issued by a renewal Rollover requested; if it is wanted, a person adopts it: rollover adopt ${obs.binding.certificateName} --version ${current.version}`,
        },
      };
    }
    if (obs.policy.exportable && !obs.state.provenance?.adopted.some((a) => a.version === current.version)) {
      return {
        phase: "pending",
        current,
        step: {
          kind: "refuse",
          reason: Reason.KeyExportable,
          message: `the certificate policy lets the key of version ${current.version} be exported; set key_props.exportable to false, or adopt the version on purpose`,
        },
      };
    }
    const mode = chooseMode(obs, policy, now);
    if (!mode) {
      return {
        phase: "pending",
        current,
        step: {
          kind: "refuse",
          reason: Reason.NoSigningKey,
          message:
            target.type === "agentIdentityBlueprint"
              ? "the agent identity blueprint has no valid certificate whose key is in Key Vault; managed mode cannot change blueprints, so a person with AgentIdentityBlueprint.AddRemoveCreds.All must add the newest version's certificate"
              : "the target has no valid certificate whose key is in Key Vault, and managed mode is not enabled (ROLLOVER_MANAGED_MODE)",
        },
      };
    }
    return {
      phase: "pending",
      current,
      step: { kind: "attach", reason: Reason.AttachNewVersion, version: current.version, ...mode },
    };
  }

  // 3. … and proven to work.
  if (obs.state.verifiedVersion !== current.version || obs.state.verifiedAt === undefined) {
    return {
      phase: "attached",
      current,
      step: { kind: "verify", reason: Reason.VerifyNewKey, version: current.version },
    };
  }

  // 4. Keys of older versions of this binding go after the grace window, never the last valid one.
  const older = new Set(usable.slice(1).map((v) => v.thumbprint));
  for (const v of obs.versions) if (!v.enabled) older.add(v.thumbprint);
  older.delete(current.thumbprint);
  const previous = target.keyCredentials
    .filter((k) => k.thumbprint !== undefined && older.has(k.thumbprint))
    .sort((a, b) => a.end - b.end || (a.keyId < b.keyId ? -1 : 1));
  const first = previous[0];
  if (first) {
    const graceEnds = obs.state.verifiedAt + policy.graceMs;
    if (now < graceEnds) {
      return {
        phase: "verified",
        current,
        step: { kind: "wait", reason: Reason.GraceWindowOpen, until: graceEnds },
      };
    }
    const validLeft = target.keyCredentials.filter(
      (k) => k.keyId !== first.keyId && isValidAt(k, now),
    ).length;
    if (validLeft === 0) {
      return { phase: "verified", current, step: { kind: "none", reason: Reason.GuardLastValidCredential } };
    }
    const mode = chooseMode(obs, policy, now, first.thumbprint);
    if (!mode) {
      return {
        phase: "verified",
        current,
        step: {
          kind: "refuse",
          reason: Reason.NoSigningKey,
          message: "no key to sign the removal proof with",
        },
      };
    }
    return {
      phase: "verified",
      current,
      step: {
        kind: "retire",
        reason: Reason.RetirePreviousKey,
        keyId: first.keyId,
        thumbprint: first.thumbprint!,
        ...mode,
      },
    };
  }
  return { phase: "active", current, step: { kind: "none", reason: Reason.UpToDate } };
}

function phaseOf(obs: BindingObservation, current: CertificateVersion): Phase {
  const target = obs.target;
  if (!target || !keyFor(target, current.thumbprint)) return "pending";
  if (obs.state.verifiedVersion !== current.version) return "attached";
  return "verified";
}
