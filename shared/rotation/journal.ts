/**
 * The intent/outcome journal of a binding: before a change, the intent is recorded (audit record
 * made durable, `inFlight` on the state record); after it, the outcome. A run that dies in
 * between is recovered by the next from what it observes (`settleInFlight`, `settleProvenance`).
 * Also what the state record remembers of Rollover's own Graph writes until a read shows them.
 */
import type { AuditEvent } from "../audit/events.js";
import type { BindingStep } from "../core/binding.js";
import { sortVersions } from "../core/binding.js";
import { type OwnWrite, type Phase, type StateRecord, withAttached } from "../core/model.js";
import { OWN_WRITE_TRUST_MS, withOwnWrites } from "../core/own-writes.js";
import { isTrustedVersion, markIssuedByRollover, markRenewalRequested } from "../core/provenance.js";
import { Reason } from "../core/reasons.js";
import type { RotationContext } from "./context.js";
import type { BindingRef } from "./engine.js";
import type { Gathered } from "./gather.js";

/** A step in words, for audit records and outcomes. */
export function describe(step: BindingStep): string {
  switch (step.kind) {
    case "renew":
      return `renew version ${step.version}`;
    case "attach":
      return `attach version ${step.version} (${step.mode} mode)`;
    case "verify":
      return `verify version ${step.version}`;
    case "retire":
      return `retire key ${step.keyId} (${step.mode} mode)`;
    default:
      return step.kind;
  }
}

/**
 * Before a change: record the intent and make the record durable; after it: the same for the
 * outcome. A run killed in between leaves the intent on record, and the next run, which sees
 * the change done, goes on from there.
 */
export async function checkpoint(ctx: RotationContext): Promise<void> {
  await ctx.deps.audit.flush?.();
}

export async function recordIntent(
  ctx: RotationContext,
  ref: BindingRef,
  g: Gathered,
  step: BindingStep,
  phase: Phase,
  signal: AbortSignal | undefined,
): Promise<void> {
  ctx.emit(ref, g.binding, g.obs.target, {
    action: step.kind as AuditEvent["action"],
    outcome: "planned",
    reason: step.reason,
    message: `about to ${describe(step)}`,
  });
  await checkpoint(ctx);
  if (step.kind !== "renew" && step.kind !== "attach" && step.kind !== "retire") return;
  const thumbprint =
    step.kind === "attach" ? g.obs.versions.find((v) => v.version === step.version)?.thumbprint : undefined;
  const inFlight: NonNullable<StateRecord["inFlight"]> = {
    kind: step.kind,
    at: ctx.deps.now(),
    ...(step.kind === "retire" ? { keyId: step.keyId } : { version: step.version }),
    ...(thumbprint ? { thumbprint } : {}),
  };
  g.obs.state = { ...g.obs.state, inFlight };
  await ctx.saveState(ref, g.obs.state, phase, signal);
}

/**
 * A change an earlier run started and did not record as done (it died in between): if the
 * observation shows it took effect, record that now; either way the journal entry is cleared
 * (a renewal Key Vault is still issuing stays until it completes).
 */
export async function settleInFlight(
  ctx: RotationContext,
  ref: BindingRef,
  g: Gathered,
  signal: AbortSignal | undefined,
): Promise<void> {
  const f = g.obs.state.inFlight;
  if (!f) return;
  const target = g.obs.target;
  const newest = sortVersions(g.obs.versions).find((v) => v.enabled);
  const done =
    f.kind === "renew"
      ? newest !== undefined && newest.version !== f.version
      : f.kind === "attach"
        ? !!target?.keyCredentials.some((k) => k.thumbprint === f.thumbprint)
        : !!target && !target.keyCredentials.some((k) => k.keyId === f.keyId);
  if (!done && f.kind === "renew" && g.obs.renewalPending) return;
  if (done) {
    ctx.emit(ref, g.binding, target, {
      action: f.kind,
      outcome: "succeeded",
      reason: Reason.RecoveredStep,
      message: `${f.kind} ${f.version ?? f.keyId ?? ""} took effect in an earlier run that stopped before recording it`,
      ...(f.kind === "renew" && newest
        ? { certificateVersion: newest.version }
        : f.version
          ? { certificateVersion: f.version }
          : {}),
      ...(f.keyId ? { keyId: f.keyId } : {}),
      ...(f.thumbprint ? { thumbprint: f.thumbprint } : {}),
    });
    await checkpoint(ctx);
  }
  const { inFlight: _f, ...rest } = g.obs.state;
  g.obs.state = done && f.kind === "attach" && f.thumbprint ? withAttached(rest, f.thumbprint) : rest;
  await ctx.saveState(ref, g.obs.state, "pending", signal);
}

/**
 * Records which version Key Vault issued for the certificate operation Rollover started: the
 * newest version whose public key is the one in that operation's CSR. A run that died between
 * starting the operation and recording it (its journal says `renew`, no operation recorded)
 * takes the operation Key Vault still holds.
 */
export async function settleProvenance(
  ctx: RotationContext,
  ref: BindingRef,
  g: Gathered,
  signal: AbortSignal | undefined,
): Promise<void> {
  let state = g.obs.state;
  let changed = false;
  const op = g.operation;
  const f = state.inFlight;
  const known = (id: string) =>
    state.provenance?.pending?.requestId === id || !!state.provenance?.issued.some((i) => i.requestId === id);
  if (f?.kind === "renew" && op?.spkiSha256 && !known(op.requestId)) {
    state = {
      ...markRenewalRequested(state, { requestId: op.requestId, spkiSha256: op.spkiSha256 }, f.at),
      renewRequestedAt: f.at,
    };
    changed = true;
  }
  const pending = state.provenance?.pending;
  const newest = sortVersions(g.obs.versions).find((v) => v.enabled);
  if (pending && newest && !isTrustedVersion(state, newest.version)) {
    const m = await ctx.vault(ref.vaultName).material(ref.certificateName, newest.version);
    if (m.spkiSha256 === pending.spkiSha256) {
      state = markIssuedByRollover(state, newest.version, pending.requestId, ctx.deps.now());
      changed = true;
    }
  }
  if (!changed) return;
  g.obs.state = state;
  if (!ctx.deps.dryRun) await ctx.saveState(ref, state, "pending", signal);
}

/**
 * The state with a write Graph accepted added to the writes Rollover trusts over a stale read,
 * and the writes a read already shows (or that are too old to trust) dropped.
 */
export function remember(ctx: RotationContext, g: Gathered, write: OwnWrite): StateRecord {
  return { ...g.obs.state, writes: [...unconfirmed(ctx, g), write] };
}

function unconfirmed(ctx: RotationContext, g: Gathered): OwnWrite[] {
  return withOwnWrites(
    g.obs.target,
    g.obs.state.writes,
    ctx.deps.now(),
    ctx.deps.policy.ownWriteTrustMs ?? OWN_WRITE_TRUST_MS,
  ).unconfirmed;
}

/** The state to save when nothing was changed: remembered writes pruned as in `remember`. */
export function settled(ctx: RotationContext, g: Gathered): StateRecord {
  const { writes: _w, ...rest } = g.obs.state;
  const writes = unconfirmed(ctx, g);
  return writes.length ? { ...rest, writes } : rest;
}
