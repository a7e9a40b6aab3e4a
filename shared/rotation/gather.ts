/**
 * Gathering one binding's observation: Key Vault (versions, policy, tags, and the pending
 * operation when the plan depends on it), Graph (the target's keyCredentials, read as Rollover
 * or, in another tenant, as the target), and the state record, into plain values the core plans
 * from. A run gathers once; its steps keep the observation current with what they did
 * (engine.ts), and `refreshTarget` reads the target again where a decision needs a fresh read.
 */
import { type BindingObservation, bindingFromTags, operationMatters } from "../core/binding.js";
import { sameTenant } from "../core/ids.js";
import { type Binding, type CertificateVersion, EMPTY_STATE, type Target } from "../core/model.js";
import { Reason, type ReasonCode } from "../core/reasons.js";
import type { OperationInfo, VaultEdge } from "../azure/keyvault.js";
import type { RotationContext } from "./context.js";
import type { BindingRef } from "./engine.js";

export interface Gathered {
  binding: Binding;
  obs: BindingObservation;
  tags: Record<string, string>;
  /** Key Vault's certificate operation, if it still holds one (read only when it matters). */
  operation?: OperationInfo;
  /** A step left Key Vault in a state only a new read shows (a version still being issued). */
  stale?: boolean;
  /** Key Vault's operation was read (or is known from Key Vault's answer to a create). */
  operationKnown?: boolean;
}

/** Why a binding cannot be observed as one (no certificate, no or bad tags): refused as is. */
export interface GatherRefusal {
  reason: ReasonCode;
  message: string;
}

/**
 * Reads one binding. `readOnly` reads the state record without claiming it (`rollover status`).
 * Throws when a service cannot be read; returns a refusal when what it read is not a binding.
 */
export async function gather(
  ctx: RotationContext,
  ref: BindingRef,
  readOnly = false,
): Promise<Gathered | GatherRefusal> {
  const { deps } = ctx;
  const vault = ctx.vault(ref.vaultName);
  // The pending operation is read below, only when the plan depends on it.
  const kv = await vault.observe(ref.certificateName, { operation: false });
  if (!kv) {
    return {
      reason: Reason.NoUsableVersion,
      message: `certificate ${ref.certificateName} not found in ${ref.vaultName}`,
    };
  }
  const parsed = bindingFromTags(vault.name, ref.certificateName, kv.tags);
  if (!parsed?.ok) {
    const reason = parsed ? parsed.reason : Reason.BindingTagsMissing;
    const message = parsed && !parsed.ok ? parsed.message : "the certificate has no rollover-* tags";
    return { reason, message };
  }
  const binding = parsed.binding;
  const tenantId = ctx.tenantOf(binding);
  const foreignTenant = !sameTenant(tenantId, deps.rollover.tenantId);
  // Rollover's identity has no standing in another tenant: it reads (and changes) the target as
  // the target itself, signing in with a certificate of this binding that is still valid.
  if (foreignTenant && !binding.clientId) {
    return {
      reason: Reason.BindingTagsInvalid,
      message: "a target in another tenant needs the rollover-client-id tag (its application's client id)",
    };
  }
  const target = await readTarget(ctx, ref, binding, kv.versions);
  const state =
    (readOnly
      ? await deps.state.peek(ref.vaultName, ref.certificateName)
      : await deps.state.get(ref.vaultName, ref.certificateName)) ?? EMPTY_STATE;
  const g: Gathered = {
    binding,
    tags: kv.tags,
    obs: {
      binding,
      versions: kv.versions,
      policy: kv.policy,
      target,
      state,
      renewalPending: false,
      selfIds: deps.rollover.selfIds,
      foreignTenant,
      ...(await keyLifetimeLimitFor(ctx, target, foreignTenant)),
    },
  };
  await readOperationWhenItMatters(ctx, ref, g);
  return g;
}

/**
 * Key Vault's operation, read while Rollover's own renewal is on record as started (its journal)
 * or when the plan turns on it (a renewal due, no usable version); otherwise no operation can
 * change what is done, and it is not read. Called again on an observation a run keeps, so a
 * renewal that falls due during the run is not started over an operation Key Vault still runs.
 */
export async function readOperationWhenItMatters(
  ctx: RotationContext,
  ref: BindingRef,
  g: Gathered,
): Promise<void> {
  const state = g.obs.state;
  if (g.operationKnown) return;
  if (state.inFlight?.kind !== "renew" && !operationMatters(g.obs, ctx.deps.policy, ctx.deps.now())) return;
  const vault = ctx.vault(ref.vaultName);
  const op = await vault.operation(ref.certificateName);
  g.operationKnown = true;
  g.obs.renewalPending = op.renewalPending;
  if (op.operation) g.operation = op.operation;
  // Rollover's own renewal, no longer running: it may have finished after the versions were
  // listed, so they are listed again (the operation first, then the versions, is the order that
  // sees a finished renewal's version).
  if (!op.renewalPending && (state.inFlight?.kind === "renew" || state.provenance?.pending)) {
    g.obs.versions = (await vault.versions(ref.certificateName)) ?? g.obs.versions;
  }
}

/**
 * Reads the target again (and its key lifetime limit): where a decision needs Graph's view as
 * it is now, not as the run first read it.
 */
export async function refreshTarget(ctx: RotationContext, ref: BindingRef, g: Gathered): Promise<void> {
  const target = await readTarget(ctx, ref, g.binding, g.obs.versions);
  const { keyLifetimeLimitMs: _l, ...rest } = g.obs;
  g.obs = { ...rest, target, ...(await keyLifetimeLimitFor(ctx, target, g.obs.foreignTenant === true)) };
}

function readTarget(
  ctx: RotationContext,
  ref: BindingRef,
  binding: Binding,
  versions: readonly CertificateVersion[],
): Promise<Target | undefined> {
  const tenantId = ctx.tenantOf(binding);
  if (!sameTenant(tenantId, ctx.deps.rollover.tenantId)) {
    return readAsTarget(ctx, ctx.vault(ref.vaultName), ref, tenantId, binding, versions);
  }
  return ctx.deps.graph.getTarget(
    ctx.clients.rollover(tenantId),
    tenantId,
    binding.targetType,
    binding.targetId,
  );
}

async function keyLifetimeLimitFor(ctx: RotationContext, target: Target | undefined, foreignTenant: boolean) {
  if (!target || foreignTenant || !ctx.deps.keyLifetimeLimit) return {};
  const limit = await ctx.deps.keyLifetimeLimit(target);
  return limit === undefined ? {} : { keyLifetimeLimitMs: limit };
}

/** Reads a target as itself, trying this binding's valid versions newest first. */
async function readAsTarget(
  ctx: RotationContext,
  vault: VaultEdge,
  ref: BindingRef,
  tenantId: string,
  binding: Binding,
  versions: readonly CertificateVersion[],
): Promise<Target | undefined> {
  const now = ctx.deps.now();
  const candidates = [...versions]
    .filter((v) => v.enabled && v.notBefore <= now && now < v.expires)
    .sort((a, b) => b.created - a.created);
  let lastError: unknown;
  for (const v of candidates) {
    const m = await vault.material(ref.certificateName, v.version);
    const client = ctx.clients.asTargetWith(tenantId, binding.clientId!, m, vault);
    try {
      return await ctx.deps.graph.getTarget(client, tenantId, binding.targetType, binding.targetId);
    } catch (e) {
      lastError = e;
    }
  }
  if (lastError) throw lastError;
  return undefined;
}
