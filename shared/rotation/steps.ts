/**
 * The four changes of a rotation, one function each: renew (Key Vault issues a new version),
 * attach (its certificate onto the target), verify (a token with it), retire (the previous key
 * off the target). Each acts once on what the pass gathered and returns the state record to save;
 * the engine records intent and outcome around it.
 */
import { randomUUID } from "node:crypto";
import type { BindingStep } from "../core/binding.js";
import { type Phase, type StateRecord, withAttached } from "../core/model.js";
import { markIssuedByRollover, markRenewalRequested } from "../core/provenance.js";
import { verifyCredential } from "../azure/entra.js";
import { graphScope, isGraphNotFound } from "../azure/graph.js";
import type { VersionMaterial } from "../azure/keyvault.js";
import { versionCredential } from "../azure/target-clients.js";
import type { RotationContext } from "./context.js";
import type { BindingRef } from "./engine.js";
import type { Gathered } from "./gather.js";
import { remember } from "./journal.js";

type Step<K extends BindingStep["kind"]> = Extract<BindingStep, { kind: K }>;

/** One step's inputs: the binding, what this pass gathered, and the lease's signal. */
export interface StepInput {
  ctx: RotationContext;
  ref: BindingRef;
  g: Gathered;
  phase: Phase;
  signal: AbortSignal | undefined;
}

/** A step that succeeded clears the failure count and the journal entry. */
function ok(s: StateRecord): StateRecord {
  const { lastError: _e, nextAttemptAt: _n, inFlight: _f, failedStep: _s, ...rest } = s;
  return { ...rest, attempts: 0 };
}

function displayName(ref: BindingRef, m: VersionMaterial): string {
  return `rollover:${ref.vaultName}/${ref.certificateName}/${m.version}`.slice(0, 90);
}

export async function renew(
  { ctx, ref, g, phase, signal }: StepInput,
  step: Step<"renew">,
): Promise<StateRecord> {
  const vault = ctx.vault(ref.vaultName);
  ctx.checkLease(signal);
  await ctx.boundary("before-renew");
  // Permission: certificates/create (see VaultEdge.beginRenew).
  // The policy this pass read is sent back with the create (not read again).
  const op = await vault.beginRenew(ref.certificateName, g.tags, undefined, g.obs.policy);
  await ctx.boundary("after-renew-request");
  // At most one renewal per buffer window, counted from the moment Key Vault took the ask.
  let state: StateRecord = {
    ...g.obs.state,
    renewRequestedFor: step.version,
    renewRequestedAt: ctx.deps.now(),
  };
  // Record the operation at once: its CSR's public key is how the new version is known as
  // Rollover's (a run that dies before this line is recovered from Key Vault's operation).
  if (op.spkiSha256) {
    state = markRenewalRequested(
      state,
      { requestId: op.requestId, spkiSha256: op.spkiSha256 },
      ctx.deps.now(),
    );
  }
  await ctx.saveState(ref, state, phase, signal);
  const issued = await op.wait(ctx.deps.renewWaitMs);
  const version = issued?.version;
  await ctx.boundary("after-renew");
  if (version && op.spkiSha256) {
    const m = await vault.material(ref.certificateName, version);
    if (m.spkiSha256 === op.spkiSha256)
      state = markIssuedByRollover(state, version, op.requestId, ctx.deps.now());
  }
  // What the next pass would read from Key Vault, known from Key Vault's own answer: the new
  // version, and the operation done. Still issuing, or an answer that names no new version (an
  // operation that failed answers with the certificate as it was): the next pass reads again.
  g.obs.policy = op.policy;
  if (issued && !g.obs.versions.some((v) => v.version === issued.version)) {
    g.obs.versions = [...g.obs.versions, issued];
    g.obs.renewalPending = false;
    g.operationKnown = true;
    g.operation = {
      requestId: op.requestId,
      status: "completed",
      ...(op.spkiSha256 ? { spkiSha256: op.spkiSha256 } : {}),
    };
  } else {
    g.stale = true;
  }
  ctx.emit(ref, g.binding, g.obs.target, {
    action: "renew",
    outcome: "succeeded",
    reason: step.reason,
    message: version
      ? `Key Vault issued version ${version} (operation ${op.requestId})`
      : `Key Vault is issuing a new version (operation ${op.requestId})`,
    certificateVersion: version ?? step.version,
  });
  return ok(state);
}

export async function attach({ ctx, ref, g, signal }: StepInput, step: Step<"attach">): Promise<StateRecord> {
  const vault = ctx.vault(ref.vaultName);
  const target = g.obs.target!;
  const tenantId = ctx.tenantOf(g.binding);
  const m = await vault.material(ref.certificateName, step.version);
  ctx.checkLease(signal);
  await ctx.boundary("before-attach");
  let keyId: string;
  if (step.mode === "self") {
    const { client, proof } = await selfModeAccess(ctx, g, ref, step.signWith!);
    ctx.checkLease(signal); // right before the Graph write
    keyId = await ctx.deps.graph.addKey(
      client,
      g.binding.targetType,
      target.id,
      m.cer,
      proof,
      displayName(ref, m),
    );
  } else {
    keyId = randomUUID();
    ctx.checkLease(signal); // right before the Graph write
    await ctx.deps.graph.appendCertificate(ctx.clients.rollover(tenantId), g.binding.targetType, target.id, {
      cer: m.cer,
      thumbprintHex: m.thumbprintHex,
      displayName: displayName(ref, m),
      keyId,
    });
  }
  await ctx.boundary("after-attach");
  ctx.emit(ref, g.binding, target, {
    action: "attach",
    outcome: "succeeded",
    reason: step.reason,
    message: `attached version ${step.version} (${step.mode} mode)`,
    certificateVersion: step.version,
    thumbprint: m.thumbprintHex,
    notBefore: new Date(m.notBefore).toISOString(),
    notAfter: new Date(m.expires).toISOString(),
  });
  // On record: the sweep treats only keys Rollover attached (or its bindings back) as its own.
  return ok(
    withAttached(
      remember(ctx, g, {
        kind: "attach",
        keyId,
        thumbprint: m.thumbprintHex,
        start: m.notBefore,
        end: m.expires,
        at: ctx.deps.now(),
      }),
      m.thumbprintHex,
    ),
  );
}

export async function verify({ ctx, ref, g, signal }: StepInput, step: Step<"verify">): Promise<StateRecord> {
  const vault = ctx.vault(ref.vaultName);
  const target = g.obs.target!;
  const m = await vault.material(ref.certificateName, step.version);
  await ctx.boundary("before-verify");
  const cred = versionCredential(ctx.deps, ctx.tenantOf(g.binding), target.appId, m, vault);
  // Verify retries for minutes while Entra replicates: a lost lease stops it at once.
  const r = await verifyCredential(
    cred,
    graphScope(ctx.deps.graph.graphBaseUrl),
    ctx.deps.verifyTimeoutMs,
    undefined,
    signal,
  );
  ctx.checkLease(signal);
  if (!r.ok) throw new Error(`no token with version ${step.version}: ${r.message}`);
  await ctx.boundary("after-verify");
  ctx.emit(ref, g.binding, target, {
    action: "verify",
    outcome: "succeeded",
    reason: step.reason,
    message: `acquired a token with version ${step.version} after ${r.attempts} attempt(s)`,
    certificateVersion: step.version,
    thumbprint: m.thumbprintHex,
  });
  return ok({ ...g.obs.state, verifiedVersion: step.version, verifiedAt: ctx.deps.now() });
}

export async function retire({ ctx, ref, g, signal }: StepInput, step: Step<"retire">): Promise<StateRecord> {
  const target = g.obs.target!;
  const tenantId = ctx.tenantOf(g.binding);
  ctx.checkLease(signal);
  await ctx.boundary("before-retire");
  if (step.mode === "self") {
    const { client, proof } = await selfModeAccess(ctx, g, ref, step.signWith!);
    // 404: the key is already gone (an earlier run removed it and a read did not show that
    // yet): the retirement is done, not failed.
    ctx.checkLease(signal); // right before the Graph write
    await ctx.deps.graph
      .removeKey(client, g.binding.targetType, target.id, step.keyId, proof)
      .catch((e: unknown) => {
        if (!isGraphNotFound(e)) throw e;
      });
  } else {
    ctx.checkLease(signal); // right before the Graph write
    await ctx.deps.graph.updateKeyCredentials(
      ctx.clients.rollover(tenantId),
      g.binding.targetType,
      target.id,
      (cur) => cur.filter((k) => k.keyId.toLowerCase() !== step.keyId),
    );
  }
  await ctx.boundary("after-retire");
  ctx.emit(ref, g.binding, target, {
    action: "retire",
    outcome: "succeeded",
    reason: step.reason,
    message: `removed previous key ${step.keyId} (${step.mode} mode)`,
    keyId: step.keyId,
    thumbprint: step.thumbprint,
  });
  return ok(remember(ctx, g, { kind: "retire", keyId: step.keyId, at: ctx.deps.now() }));
}

/** Self mode: the target's Graph client and a proof-of-possession, both with `signWith`'s key. */
function selfModeAccess(ctx: RotationContext, g: Gathered, ref: BindingRef, signWith: string) {
  const vault = ctx.vault(ref.vaultName);
  return ctx.clients.asTarget(vault, ref.certificateName, ctx.tenantOf(g.binding), g.obs.target!, signWith);
}
