/**
 * Gathering one binding's observation: Key Vault (versions, policy, pending operation, tags),
 * Graph (the target's keyCredentials, read as Rollover or, in another tenant, as the target),
 * and the state record, into plain values the core plans from.
 */
import { type BindingObservation, bindingFromTags } from "../core/binding.js";
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
  /** Key Vault's certificate operation, if it still holds one. */
  operation?: OperationInfo;
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
  const kv = await vault.observe(ref.certificateName);
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
  let target: Target | undefined;
  if (foreignTenant) {
    // Rollover's identity has no standing in another tenant: it reads (and changes) the target
    // as the target itself, signing in with a certificate of this binding that is still valid.
    if (!binding.clientId) {
      return {
        reason: Reason.BindingTagsInvalid,
        message: "a target in another tenant needs the rollover-client-id tag (its application's client id)",
      };
    }
    target = await readAsTarget(ctx, vault, ref, tenantId, binding, kv.versions);
  } else {
    target = await deps.graph.getTarget(
      ctx.clients.rollover(tenantId),
      tenantId,
      binding.targetType,
      binding.targetId,
    );
  }
  const state =
    (readOnly
      ? await deps.state.peek(ref.vaultName, ref.certificateName)
      : await deps.state.get(ref.vaultName, ref.certificateName)) ?? EMPTY_STATE;
  return {
    binding,
    tags: kv.tags,
    ...(kv.operation ? { operation: kv.operation } : {}),
    obs: {
      binding,
      versions: kv.versions,
      policy: kv.policy,
      target,
      state,
      renewalPending: kv.renewalPending,
      selfIds: deps.rollover.selfIds,
      foreignTenant,
      ...(await keyLifetimeLimitFor(ctx, target, foreignTenant)),
    },
  };
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
