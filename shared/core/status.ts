/**
 * `rollover status`: one row per binding, named by its certificate, from what was read about it
 * (its observation and plan, or why it could not be read). Pure: the same reads and clock give
 * the same rows. Rows that need a person come first.
 */
import type { BindingObservation, BindingPlan, BindingPolicy, BindingStep } from "./binding.js";
import { sortVersions } from "./binding.js";
import type { BindingMode, CertificateVersion, Phase, TargetType } from "./model.js";
import { REASON_CLASS, REASON_TEXT, type ReasonClass, type ReasonCode } from "./reasons.js";
import type { EpochMs } from "./time.js";

/** What was read about one binding (the engine's `inspect`). */
export interface StatusInput {
  ref: { vaultName: string; certificateName: string };
  obs?: BindingObservation;
  plan?: BindingPlan;
  refusal?: { reason: ReasonCode; message: string };
}

export interface StatusVersion {
  version: string;
  expires: EpochMs;
}

export interface StatusRow {
  certificate: string;
  vault: string;
  target?: { type: TargetType; id: string; displayName?: string; tenantId?: string };
  /** The mode the binding asks for (tags). */
  mode?: BindingMode;
  phase?: Phase;
  /** The version whose key the target uses now (verified, else attached). */
  current?: StatusVersion;
  /** The newest enabled Key Vault version. */
  newest?: StatusVersion;
  /** When the current key was proven by a token. */
  verifiedAt?: EpochMs;
  /** When the replaced key goes (end of the grace window). */
  retiresAt?: EpochMs;
  /** The last failed step's error and how many attempts failed in a row (from the state record). */
  lastError?: { message: string; attempts: number; nextAttemptAt?: EpochMs };
  next: {
    action: BindingStep["kind"];
    reason: ReasonCode;
    class: ReasonClass;
    /** One line: the refusal's message, else the reason's text. */
    text: string;
    /** For waits: until when. */
    until?: EpochMs;
  };
  needsPerson: boolean;
  /**
   * The target still holds a valid client secret: has its service moved to the certificate
   * (`rollover migrate-secret`)? From sign-in data where readable.
   */
  secrets?: { state: "unknown" | "notSwitched" | "switched" | "done"; detail: string };
}

const CLASS_ORDER: Record<ReasonClass, number> = { needsPerson: 0, transient: 1, fine: 2 };

function onTarget(obs: BindingObservation, v: CertificateVersion): boolean {
  return obs.target?.keyCredentials.some((k) => k.thumbprint === v.thumbprint) ?? false;
}

function version(v: CertificateVersion | undefined): StatusVersion | undefined {
  return v ? { version: v.version, expires: v.expires } : undefined;
}

/** One row from what was read about a binding. */
export function statusRow(input: StatusInput, policy: Pick<BindingPolicy, "graceMs">): StatusRow {
  const base = { certificate: input.ref.certificateName, vault: input.ref.vaultName };
  const { obs, plan } = input;
  if (!obs || !plan) {
    const reason = input.refusal?.reason ?? "ReadFailed";
    return {
      ...base,
      next: {
        action: "refuse",
        reason,
        class: REASON_CLASS[reason],
        text: input.refusal?.message ?? REASON_TEXT[reason],
      },
      needsPerson: REASON_CLASS[reason] === "needsPerson",
    };
  }
  const b = obs.binding;
  const usable = sortVersions(obs.versions).filter((v) => v.enabled && v.expires > v.notBefore);
  const verified = usable.find((v) => v.version === obs.state.verifiedVersion && onTarget(obs, v));
  const current = verified ?? usable.find((v) => onTarget(obs, v));
  const step = plan.step;
  const graceEnds =
    obs.state.verifiedAt !== undefined &&
    ((step.kind === "wait" && step.reason === "GraceWindowOpen") || step.kind === "retire")
      ? obs.state.verifiedAt + policy.graceMs
      : undefined;
  const cls = REASON_CLASS[step.reason];
  return {
    ...base,
    target: {
      type: b.targetType,
      id: b.targetId,
      ...(obs.target?.displayName ? { displayName: obs.target.displayName } : {}),
      ...(b.tenantId ? { tenantId: b.tenantId } : {}),
    },
    mode: b.mode,
    phase: plan.phase,
    ...(current ? { current: version(current) } : {}),
    ...(usable[0] ? { newest: version(usable[0]) } : {}),
    ...(verified && obs.state.verifiedAt !== undefined ? { verifiedAt: obs.state.verifiedAt } : {}),
    ...(graceEnds !== undefined ? { retiresAt: graceEnds } : {}),
    ...(obs.state.lastError && obs.state.attempts > 0
      ? {
          lastError: {
            message: obs.state.lastError,
            attempts: obs.state.attempts,
            ...(obs.state.nextAttemptAt !== undefined ? { nextAttemptAt: obs.state.nextAttemptAt } : {}),
          },
        }
      : {}),
    next: {
      action: step.kind,
      reason: step.reason,
      class: cls,
      text: step.kind === "refuse" ? step.message : REASON_TEXT[step.reason],
      ...(step.kind === "wait" && step.until !== undefined ? { until: step.until } : {}),
    },
    needsPerson: cls === "needsPerson",
  };
}

/** Every binding's row: needs-a-person first, then retrying, then fine; by certificate within each. */
export function statusOf(
  inputs: readonly StatusInput[],
  policy: Pick<BindingPolicy, "graceMs">,
): StatusRow[] {
  return inputs
    .map((i) => statusRow(i, policy))
    .sort(
      (a, b) =>
        CLASS_ORDER[a.next.class] - CLASS_ORDER[b.next.class] ||
        (a.certificate < b.certificate ? -1 : a.certificate > b.certificate ? 1 : 0) ||
        (a.vault < b.vault ? -1 : a.vault > b.vault ? 1 : 0),
    );
}
