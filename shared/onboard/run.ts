/**
 * `rollover bind`, `unbind` and `migrate-secret`: gather (Graph and Key Vault, as the person at the
 * keyboard), decide (plan.ts), act once, audit every step with the person as the actor.
 *
 * Safe to re-run: bind finds the certificate an earlier run created (tags are the truth) and goes
 * on from there, or says the binding exists and changes nothing; unbind on a certificate that is
 * no binding any more changes nothing.
 */
import { readAppManagementPolicies } from "../azure/policies.js";
import { restrictionsFor } from "../core/insight.js";
import { randomUUID } from "node:crypto";
import { cached } from "../cache.js";
import type { TokenCredential } from "@azure/identity";
import type { Client } from "@microsoft/microsoft-graph-client";
import type { AuditSink } from "../audit/events.js";
import type { Rollover } from "../app.js";
import { verifyCredential } from "../azure/entra.js";
import { versionCredential } from "../azure/target-clients.js";
import { graphScope } from "../azure/graph.js";
import type { VaultEdge, VersionMaterial } from "../azure/keyvault.js";
import {
  addKeyAsOperator,
  createBindingCertificate,
  findTargets,
  graphRefusal,
  keyVaultRefusal,
  listVaultCertificates,
  operatorCredential,
  removeKeysAsOperator,
  removeSecretAsOperator,
  retireBindingVersions,
} from "../azure/onboard.js";
import { readCredentialSignIns } from "../azure/signins.js";
import { proofOfPossession } from "../azure/signed-jwt.js";
import { type BindingObservation, bindingFromTags } from "../core/binding.js";
import { type Binding, EMPTY_STATE, type Target, withAttached } from "../core/model.js";
import { OWN_WRITE_TRUST_MS, withOwnWrites } from "../core/own-writes.js";
import { Reason } from "../core/reasons.js";
import {
  type BindPlan,
  type BindRequest,
  type MigrationState,
  migrationState,
  OnboardInputError,
  pickTarget,
  planBind,
  planUnbind,
  type SignInView,
  secretsToRemove,
} from "./plan.js";
import { issuedByRollover } from "./provenance.js";

export interface OnboardContext {
  /** Rollover built with the person's credential (`r.credential`). */
  r: Rollover;
  /** Who runs the command, for the audit trail. */
  actor: string;
  audit: AuditSink;
  now: () => number;
  /** How long to wait for Key Vault to issue the first version. */
  createWaitMs: number;
  /** How long to keep trying a token with the new certificate. */
  verifyTimeoutMs: number;
  /** Progress lines for people. */
  say: (line: string) => void;
  /**
   * Records that Rollover caused Key Vault to issue this version (provenance: only such versions
   * are ever attached by the engine).
   */
  recordIssued: (
    vault: VaultEdge,
    certificateName: string,
    issued: { version: string; requestId: string | undefined },
  ) => Promise<void>;
}

export interface OnboardResult {
  /** 0 done (or nothing to do), 1 failed after changes began. */
  exitCode: 0 | 1;
  /** For --json and tests. */
  summary: Record<string, unknown>;
}

/** The configured vault named by --vault (its name or URL), or the only one configured. */
export function chooseVault(r: Rollover, name: string | undefined): VaultEdge {
  const vaults = [...r.vaults.values()];
  if (name === undefined) {
    if (vaults.length === 1) return vaults[0]!;
    throw new OnboardInputError(
      "--vault",
      `several vaults are configured; name one of ${vaults.map((v) => v.name).join(", ")}`,
    );
  }
  const wanted = name.replace(/\/+$/, "").toLowerCase();
  const v = vaults.find(
    (x) => x.name.toLowerCase() === wanted || x.vaultUrl.replace(/\/+$/, "").toLowerCase() === wanted,
  );
  if (!v)
    throw new OnboardInputError(
      "--vault",
      `vault "${name}" is not configured; add its URL to ROLLOVER_VAULT_URLS or use one of ${vaults.map((x) => x.name).join(", ") || "(none)"}`,
    );
  return v;
}

/** The vault's certificates, or bad settings when the person may not read it (exit 2, nothing changed). */
async function readVault(vault: VaultEdge): ReturnType<typeof listVaultCertificates> {
  try {
    return await listVaultCertificates(vault);
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 403) throw e;
    throw new OnboardInputError(
      "--vault",
      `Key Vault ${vault.name} refused you (HTTP 403): you need Key Vault Certificates Officer and Key Vault Crypto User on it to bind`,
    );
  }
}

function tenantOf(ctx: OnboardContext, tenantId: string | undefined): string {
  return (tenantId ?? ctx.r.config.tenantId!).toLowerCase();
}

/**
 * In another tenant the person signs in there (as a guest) before anything is read: where they
 * have no account, Entra refuses the token (AADSTS50020) and the command stops, naming the tenant.
 */
async function signInToTenant(ctx: OnboardContext, tenantId: string): Promise<void> {
  if (tenantId === ctx.r.config.tenantId!.toLowerCase()) return;
  try {
    await operatorIn(ctx, tenantId).getToken(graphScope(ctx.r.graph.graphBaseUrl));
  } catch (e) {
    // Entra's own words (AADSTS…), without the SDK's wrapping; else the error's first line.
    const text = String((e as Error).message);
    const cause = (/AADSTS\d+[^\r\n]*/.exec(text)?.[0] ?? text.split("\n")[0] ?? "").trim();
    throw new OnboardInputError(
      "--tenant",
      `cannot sign in to tenant ${tenantId} as you (${cause}); check the tenant id, or ask that tenant's administrator to invite you as a guest (with the Application Administrator role to bind its applications)`,
    );
  }
}

const guestCredentials = new WeakMap<OnboardContext, Map<string, TokenCredential>>();

/**
 * The person's credential in a tenant: their own sign-in at home; in another tenant, one
 * credential per tenant for the whole command, so the token it got there (its cache) serves
 * every read and write instead of a sign-in per Graph client.
 */
function operatorIn(ctx: OnboardContext, tenantId: string): TokenCredential {
  if (tenantId === ctx.r.config.tenantId!.toLowerCase()) return ctx.r.credential;
  let byTenant = guestCredentials.get(ctx);
  if (!byTenant) {
    byTenant = new Map();
    guestCredentials.set(ctx, byTenant);
  }
  return cached(byTenant, tenantId, () => operatorCredential(ctx.r.config.authorityHost, tenantId), Infinity);
}

/** The person's Graph client in a tenant (their own sign-in; in another tenant, as a guest there). */
function operatorGraph(ctx: OnboardContext, tenantId: string): Client {
  return ctx.r.graph.client(operatorIn(ctx, tenantId));
}

function targetFields(target: Target, vault: VaultEdge, certificateName: string) {
  return {
    tenantId: target.tenantId,
    targetType: target.type,
    targetObjectId: target.id,
    targetAppId: target.appId,
    targetDisplayName: target.displayName,
    vaultName: vault.name,
    certificateName,
  };
}

function materialFields(m: VersionMaterial) {
  return {
    certificateVersion: m.version,
    thumbprint: m.thumbprintHex,
    notBefore: new Date(m.notBefore).toISOString(),
    notAfter: new Date(m.expires).toISOString(),
  };
}

async function checkpoint(ctx: OnboardContext): Promise<void> {
  await ctx.audit.flush?.();
}

/** The target, resolved from an object id, app id or display name (exit 2 when not exactly one). */
export async function resolveTarget(
  ctx: OnboardContext,
  query: string,
  type: BindRequest["targetType"],
  tenantId: string,
): Promise<Target> {
  await signInToTenant(ctx, tenantId);
  const client = operatorGraph(ctx, tenantId);
  const picked = pickTarget(query, await findTargets(client, tenantId, query, type));
  // Lists carry no key material (Graph returns `key` only when one object is read with
  // $select=keyCredentials), and thumbprints come from the certificates: read the one target.
  return (await ctx.r.graph.getTarget(client, tenantId, picked.type, picked.id)) ?? picked;
}

// --- bind -------------------------------------------------------------------------------------

export interface BindOutcome extends OnboardResult {
  plan: BindPlan;
  target: Target;
  vault: VaultEdge;
}

export async function bind(
  ctx: OnboardContext,
  req: BindRequest,
  opts: { yes: boolean },
): Promise<BindOutcome> {
  const vault = chooseVault(ctx.r, req.vault);
  const tenantId = tenantOf(ctx, req.tenantId);
  const resolved = await resolveTarget(ctx, req.target, req.targetType, tenantId);
  const certificates = await readVault(vault);
  // Entra is eventually consistent: a key an earlier bind attached may not show in this read yet.
  let target = resolved;
  for (const c of certificates.filter((x) => x.binding?.targetId === resolved.id)) {
    const writes = (await ctx.r.state.get(vault.name, c.name))?.writes;
    target = withOwnWrites(target, writes, ctx.now(), OWN_WRITE_TRUST_MS).target ?? target;
  }
  // The tenant's app management policy, where the person may read it (Policy.Read.All): a
  // validity Graph would refuse at addKey is bad input, found before anything is created.
  const keyLifetimeMs = restrictionsFor(
    target,
    await readAppManagementPolicies(operatorGraph(ctx, tenantId)),
  )?.keyLifetimeMs;
  const plan = planBind({
    request: req,
    target,
    vaultName: vault.name,
    homeTenantId: ctx.r.config.tenantId!,
    certificates,
    selfIds: ctx.r.selfIds,
    ...(keyLifetimeMs !== undefined
      ? { maxCertificateLifetimeDays: Math.floor(keyLifetimeMs / 86_400_000) }
      : {}),
    now: ctx.now(),
  });
  const base = targetFields(target, vault, plan.certificateName);
  if (plan.kind === "alreadyBound") {
    ctx.audit.emit({
      ...base,
      action: "bind",
      outcome: "skipped",
      reason: Reason.AlreadyBound,
      message: plan.message,
    });
    ctx.say(plan.message);
    return {
      exitCode: 0,
      plan,
      target,
      vault,
      summary: { result: "alreadyBound", certificate: plan.certificateName },
    };
  }
  ctx.say(
    `Bind ${target.displayName} (${target.type} ${target.id}) to ${vault.name}/${plan.certificateName}:`,
  );
  for (const s of plan.steps) ctx.say(`  - ${s}`);
  if (!opts.yes) {
    ctx.say("Nothing was changed (add --yes to do it).");
    return { exitCode: 0, plan, target, vault, summary: { result: "planned", steps: plan.steps } };
  }
  ctx.audit.emit({
    ...base,
    action: "bind",
    outcome: "planned",
    reason: Reason.Bind,
    message: `about to bind: ${plan.steps.join("; ")}`,
  });
  await checkpoint(ctx);

  // 1. The certificate (or the one an earlier run created).
  let version: string;
  if (plan.create) {
    let issued: Awaited<ReturnType<typeof createBindingCertificate>>;
    try {
      issued = await createBindingCertificate(vault, plan.certificateName, req, plan.tags, ctx.createWaitMs);
    } catch (e) {
      const refusal = keyVaultRefusal(e);
      if (refusal) {
        ctx.audit.emit({
          ...base,
          action: "bind",
          outcome: "failed",
          reason: Reason.Bind,
          message: `Key Vault refused the certificate: ${refusal.message}`,
        });
        await checkpoint(ctx);
        throw new OnboardInputError(
          refusal.status === 409 ? "--name" : "certificate policy",
          `Key Vault refused to create ${plan.certificateName} (${refusal.message}); nothing was created. ${refusal.status === 409 ? "A deleted certificate of that name may be kept by soft delete: recover or purge it, or choose another --name" : "Check --key-type, --key-size and --validity-months against the vault's tier and policy"}`,
        );
      }
      throw e;
    }
    if (!issued)
      throw new Error(
        `Key Vault is still issuing ${plan.certificateName}; run bind again in a minute to finish`,
      );
    version = issued.version;
    await ctx.recordIssued(vault, plan.certificateName, issued);
    const m = await vault.material(plan.certificateName, version);
    ctx.audit.emit({
      ...base,
      ...materialFields(m),
      action: "bind",
      outcome: "succeeded",
      reason: Reason.Bind,
      message: `created ${vault.name}/${plan.certificateName} version ${version} (non-exportable ${req.keyType} ${req.keySize}, ${req.validityMonths} months) tagged for ${target.id}`,
    });
    await checkpoint(ctx);
    ctx.say(`created ${vault.name}/${plan.certificateName} version ${version}`);
  } else {
    const obs = await vault.observe(plan.certificateName);
    const newest = obs?.versions.filter((v) => v.enabled).sort((a, b) => b.created - a.created)[0];
    if (!newest) throw new Error(`${plan.certificateName} has no enabled version; unbind it and bind again`);
    // Trust boundary: go on only with a version an earlier bind had Key Vault issue, never one
    // someone else added to a certificate tagged for this target (it could hold their key).
    if (!issuedByRollover(await ctx.r.state.get(vault.name, plan.certificateName), newest.version))
      throw new OnboardInputError(
        "--name",
        `${vault.name}/${plan.certificateName} is tagged for ${target.displayName}, but Rollover did not issue its version ${newest.version}; nothing was changed. Check who created it, then unbind it (or choose another --name) and bind again`,
      );
    version = newest.version;
  }
  const m = await vault.material(plan.certificateName, version);

  // 2. Its public key on the target.
  let attachedKeyId = "";
  try {
    if (plan.attachAs.kind === "target") {
      const signWith = plan.attachAs.signWith;
      const signerVersion = (await vault.observe(signWith.name))?.versions.find(
        (v) => v.thumbprint === signWith.thumbprint,
      );
      if (!signerVersion) throw new Error(`${signWith.name} changed while bind ran; run bind again`);
      const signer = await vault.material(signWith.name, signerVersion.version);
      const client = ctx.r.graph.client(targetCredential(ctx, tenantId, target.appId, vault, signer));
      const proof = await proofOfPossession({
        objectId: target.id,
        certificate: signer,
        sign: vault.signer(signer.kid),
        now: ctx.now(),
      });
      // Self mode: "an application does not need any specific permission to roll its own keys"
      // (learn.microsoft.com/graph/api/application-addkey, "Permissions").
      attachedKeyId = await ctx.r.graph.addKey(
        client,
        target.type,
        target.id,
        m.cer,
        proof,
        keyDisplayName(vault, plan.certificateName, m),
      );
    } else {
      attachedKeyId = randomUUID();
      await addKeyAsOperator(
        ctx.r.graph,
        operatorGraph(ctx, tenantId),
        target,
        m.cer,
        m.thumbprintHex,
        keyDisplayName(vault, plan.certificateName, m),
        attachedKeyId,
      );
    }
  } catch (e) {
    const refusal = graphRefusal(e);
    ctx.audit.emit({
      ...base,
      ...materialFields(m),
      action: "attach",
      outcome: "failed",
      reason: Reason.AttachNewVersion,
      message: `could not add the key to the target: ${refusal?.message ?? (e as Error).message}`,
    });
    await checkpoint(ctx);
    if (refusal?.status === 403)
      throw new OnboardInputError(
        "<target>",
        `Graph refused to add the key to ${target.displayName} as you (${refusal.message}): you need the Application Administrator role or ownership of the target${tenantId === tenantOf(ctx, undefined) ? "" : ` in tenant ${tenantId}`}. The certificate ${vault.name}/${plan.certificateName} exists; run bind again once you have the rights`,
      );
    throw e;
  }
  // On record, as the engine keeps it: the key is Rollover's (the sweep's view) and a write Graph
  // accepted (trusted over a read that does not show it yet).
  const attachedState = withAttached(
    {
      ...((await ctx.r.state.get(vault.name, plan.certificateName)) ?? EMPTY_STATE),
      writes: [
        {
          kind: "attach",
          keyId: attachedKeyId,
          thumbprint: m.thumbprintHex,
          start: m.notBefore,
          end: m.expires,
          at: ctx.now(),
        },
      ],
    },
    m.thumbprintHex,
  );
  await ctx.r.state.put(vault.name, plan.certificateName, attachedState, "attached");
  ctx.audit.emit({
    ...base,
    ...materialFields(m),
    action: "attach",
    outcome: "succeeded",
    reason: Reason.AttachNewVersion,
    message:
      plan.attachAs.kind === "target"
        ? `added the key as the target itself (proof signed by ${plan.attachAs.signWith.name})`
        : `added the key as ${ctx.actor}`,
  });
  await checkpoint(ctx);
  ctx.say(`added its key to ${target.displayName}`);

  // 3. A token with it.
  const verified = await verifyCredential(
    targetCredential(ctx, tenantId, target.appId, vault, m),
    graphScope(ctx.r.graph.graphBaseUrl),
    ctx.verifyTimeoutMs,
  );
  if (!verified.ok) {
    ctx.audit.emit({
      ...base,
      ...materialFields(m),
      action: "verify",
      outcome: "failed",
      reason: Reason.VerifyNewKey,
      message: `no token with the new certificate: ${verified.message}`,
    });
    await checkpoint(ctx);
    ctx.say(
      `no token with the new certificate yet (${verified.message}); Rollover verifies it on its next run`,
    );
    return {
      exitCode: 1,
      plan,
      target,
      vault,
      summary: { result: "unverified", certificate: plan.certificateName, version },
    };
  }
  await ctx.r.state.put(
    vault.name,
    plan.certificateName,
    { ...attachedState, attempts: 0, verifiedVersion: version, verifiedAt: ctx.now() },
    "active",
  );
  ctx.audit.emit({
    ...base,
    ...materialFields(m),
    action: "verify",
    outcome: "succeeded",
    reason: Reason.VerifyNewKey,
    message: `acquired a token with version ${version} after ${verified.attempts} attempt(s)`,
  });
  await checkpoint(ctx);
  ctx.say(`got a token with it: ${vault.name}/${plan.certificateName} is bound`);
  return {
    exitCode: 0,
    plan,
    target,
    vault,
    summary: { result: "bound", certificate: plan.certificateName, version },
  };
}

function targetCredential(
  ctx: OnboardContext,
  tenantId: string,
  clientId: string,
  vault: VaultEdge,
  m: VersionMaterial,
) {
  return versionCredential(
    { authorityHost: ctx.r.config.authorityHost, now: ctx.now },
    tenantId,
    clientId,
    m,
    vault,
  );
}

function keyDisplayName(vault: VaultEdge, name: string, m: VersionMaterial): string {
  return `rollover:${vault.name}/${name}/${m.version}`.slice(0, 90);
}

/** What the service must change to use its certificate (printed after bind). */
export function nextSteps(o: { target: Target; vault: VaultEdge; certificateName: string }): string[] {
  const { target, vault, certificateName } = o;
  return [
    "Next: point the service at the certificate. Its private key stays in Key Vault; the service signs with it there.",
    "  With EntraAgentId (rollover/identity):",
    `    new EntraAgentId({ tenantId: "${target.tenantId}", clientId: "${target.appId}",`,
    `      keyVaultCertificate: { vaultUrl: "${vault.vaultUrl}", name: "${certificateName}" } });`,
    "  In an App Service or Functions app: give the app's managed identity Key Vault Certificate User and",
    "  Key Vault Crypto User on the vault, and pass these app settings to EntraAgentId, for example:",
    `    ENTRA_TENANT_ID=${target.tenantId} ENTRA_CLIENT_ID=${target.appId} ENTRA_KEY_VAULT_URL=${vault.vaultUrl} ENTRA_CERTIFICATE_NAME=${certificateName}`,
    "  (A Key Vault reference, @Microsoft.KeyVault(...), hands the app the certificate's secret, which for a",
    "  non-exportable key holds no private key: sign in Key Vault instead.)",
    `Then remove the service's old credentials; \`rollover migrate-secret ${target.appId}\` tells when it has switched.`,
  ];
}

// --- unbind -----------------------------------------------------------------------------------

function signInView(s: Awaited<ReturnType<typeof readCredentialSignIns>>): SignInView {
  return s.available ? { available: true, lastSignIn: s.lastSignIn } : { available: false, detail: s.detail };
}

async function findBinding(
  ctx: OnboardContext,
  certificate: string,
  vaultName: string | undefined,
): Promise<{ vault: VaultEdge; obs: NonNullable<Awaited<ReturnType<VaultEdge["observe"]>>> } | undefined> {
  const vaults = vaultName ? [chooseVault(ctx.r, vaultName)] : [...ctx.r.vaults.values()];
  for (const v of vaults) {
    const obs = await v.observe(certificate);
    if (obs) return { vault: v, obs };
  }
  return undefined;
}

export async function unbind(
  ctx: OnboardContext,
  certificate: string,
  opts: { vault?: string; yes: boolean; force: boolean },
): Promise<OnboardResult> {
  const found = await findBinding(ctx, certificate, opts.vault);
  if (!found)
    throw new OnboardInputError(
      "<certificate>",
      `no certificate named ${certificate} in ${opts.vault ?? [...ctx.r.vaults.values()].map((v) => v.name).join(", ")}`,
    );
  const { vault, obs } = found;
  const parsed = bindingFromTags(vault.name, certificate, obs.tags);
  if (!parsed) {
    ctx.say(`${vault.name}/${certificate} is not a binding (no rollover-* tags); nothing changed`);
    return { exitCode: 0, summary: { result: "notBound" } };
  }
  if (!parsed.ok)
    throw new OnboardInputError(
      "<certificate>",
      `${certificate} has broken binding tags (${parsed.message}); fix or remove them by hand`,
    );
  const binding: Binding = parsed.binding;
  const tenantId = tenantOf(ctx, binding.tenantId);
  const client = operatorGraph(ctx, tenantId);
  const target = await ctx.r.graph.getTarget(client, tenantId, binding.targetType, binding.targetId);
  const thumbs = new Set(obs.versions.map((v) => v.thumbprint));
  const onTarget = (target?.keyCredentials ?? []).some((k) => k.thumbprint && thumbs.has(k.thumbprint));
  const signIns: SignInView =
    onTarget && !opts.force
      ? signInView(await readCredentialSignIns(client, ctx.r.graph.graphBaseUrl))
      : { available: false, detail: "not read" };
  const plan = planUnbind({
    binding,
    versions: obs.versions,
    target,
    signIns,
    force: opts.force,
    now: ctx.now(),
  });
  ctx.say(`Unbind ${vault.name}/${certificate} from ${target?.displayName ?? binding.targetId}:`);
  for (const s of plan.steps) ctx.say(`  - ${s}`);
  if (!opts.yes) {
    ctx.say("Nothing was changed (add --yes to do it).");
    return { exitCode: 0, summary: { result: "planned", steps: plan.steps } };
  }
  const base = {
    tenantId,
    targetType: binding.targetType,
    targetObjectId: binding.targetId,
    ...(target ? { targetAppId: target.appId, targetDisplayName: target.displayName } : {}),
    vaultName: vault.name,
    certificateName: certificate,
  };
  ctx.audit.emit({
    ...base,
    action: "unbind",
    outcome: "planned",
    reason: Reason.Unbind,
    message: `about to unbind: ${plan.steps.join("; ")}`,
  });
  await checkpoint(ctx);

  if (target && plan.keys.length > 0) {
    if (plan.removeAs.kind === "target") {
      const signer = await vault.material(certificate, plan.removeAs.signWith.version);
      const asTarget = ctx.r.graph.client(targetCredential(ctx, tenantId, target.appId, vault, signer));
      // The key that signs the proofs goes last.
      const keys = [...plan.keys].sort(
        (a, b) =>
          Number(a.thumbprint === signer.thumbprintHex) - Number(b.thumbprint === signer.thumbprintHex),
      );
      for (const k of keys) {
        const proof = await proofOfPossession({
          objectId: target.id,
          certificate: signer,
          sign: vault.signer(signer.kid),
          now: ctx.now(),
        });
        // Self mode: removeKey needs no permission (learn.microsoft.com/graph/api/application-removekey).
        await ctx.r.graph.removeKey(asTarget, target.type, target.id, k.keyId, proof);
        ctx.audit.emit({
          ...base,
          action: "unbind",
          outcome: "succeeded",
          reason: Reason.Unbind,
          keyId: k.keyId,
          ...(k.thumbprint ? { thumbprint: k.thumbprint } : {}),
          message: `removed key ${k.keyId} as the target itself`,
        });
        await checkpoint(ctx);
      }
    } else {
      await removeKeysAsOperator(
        ctx.r.graph,
        client,
        target,
        plan.keys.map((k) => k.keyId),
      );
      for (const k of plan.keys)
        ctx.audit.emit({
          ...base,
          action: "unbind",
          outcome: "succeeded",
          reason: Reason.Unbind,
          keyId: k.keyId,
          ...(k.thumbprint ? { thumbprint: k.thumbprint } : {}),
          message: `removed key ${k.keyId} as ${ctx.actor}`,
        });
      await checkpoint(ctx);
    }
    ctx.say(`removed ${plan.keys.length} key(s) from ${target.displayName}`);
  }
  const n = await retireBindingVersions(vault, certificate);
  await ctx.r.state.delete(vault.name, certificate);
  ctx.audit.emit({
    ...base,
    action: "unbind",
    outcome: "succeeded",
    reason: Reason.Unbind,
    message: `removed the binding tags from ${n} version(s) and disabled them; Key Vault keeps them`,
  });
  await checkpoint(ctx);
  ctx.say(`untagged and disabled ${n} version(s): ${vault.name}/${certificate} is no longer a binding`);
  return {
    exitCode: 0,
    summary: { result: "unbound", keysRemoved: plan.keys.map((k) => k.keyId), versions: n },
  };
}

// --- migrate-secret ---------------------------------------------------------------------------

export interface MigrationReport {
  target: Target;
  certificateName?: string;
  state: MigrationState;
}

/** Whether the target (bound by a certificate of `vault`) has moved off its client secrets. */
export async function migrationReport(
  ctx: OnboardContext,
  target: Target,
  vault: VaultEdge,
): Promise<MigrationReport> {
  const tenantId = target.tenantId;
  const certs = (await listVaultCertificates(vault)).filter((c) => c.binding?.targetId === target.id);
  const thumbprints = new Set<string>();
  for (const c of certs)
    for (const v of (await vault.observe(c.name))?.versions ?? []) thumbprints.add(v.thumbprint);
  const signIns = signInView(
    await readCredentialSignIns(operatorGraph(ctx, tenantId), ctx.r.graph.graphBaseUrl),
  );
  let verifiedAt: number | undefined;
  for (const c of certs) {
    const at = (await ctx.r.state.get(vault.name, c.name))?.verifiedAt;
    if (at !== undefined && (verifiedAt === undefined || at > verifiedAt)) verifiedAt = at;
  }
  return {
    target,
    ...(certs[0] ? { certificateName: certs[0].name } : {}),
    state: migrationState({
      target,
      certificateThumbprints: thumbprints,
      signIns,
      ...(verifiedAt !== undefined ? { rolloverVerifiedAt: verifiedAt } : {}),
    }),
  };
}

export async function migrateSecret(
  ctx: OnboardContext,
  req: BindRequest,
  opts: { yes: boolean; removeSecrets: boolean },
): Promise<OnboardResult & { report?: MigrationReport }> {
  const vault = chooseVault(ctx.r, req.vault);
  const tenantId = tenantOf(ctx, req.tenantId);
  let target = await resolveTarget(ctx, req.target, req.targetType, tenantId);
  const bound = (await readVault(vault)).some((c) => c.binding?.targetId === target.id);
  if (!bound && target.passwordCredentials.length === 0)
    throw new OnboardInputError(
      "<target>",
      `${target.displayName} holds no client secret; use rollover bind`,
    );
  let bindSummary: Record<string, unknown> | undefined;
  if (!bound) {
    const b = await bind(ctx, { ...req, target: target.id, targetType: target.type }, { yes: opts.yes });
    bindSummary = b.summary;
    if (!opts.yes || b.exitCode !== 0) return { exitCode: b.exitCode, summary: { bind: b.summary } };
    target =
      (await ctx.r.graph.getTarget(operatorGraph(ctx, tenantId), tenantId, target.type, target.id)) ?? target;
  }
  const report = await migrationReport(ctx, target, vault);
  const base = targetFields(target, vault, report.certificateName ?? "");
  ctx.say(`${target.displayName}: ${describeMigration(report.state)} (${report.state.detail})`);
  ctx.audit.emit({
    ...base,
    action: "migrateSecret",
    outcome: "skipped",
    reason:
      report.state.state === "switched" || report.state.state === "done"
        ? Reason.SwitchedToCertificate
        : Reason.SecretStillInUse,
    message: `${describeMigration(report.state)}: ${report.state.detail}`,
  });
  if (!opts.removeSecrets) {
    if (report.state.state === "switched")
      ctx.say(
        `Its ${target.passwordCredentials.length} secret(s) can go: run again with --remove-secrets --yes`,
      );
    return {
      exitCode: 0,
      report,
      summary: { ...(bindSummary ? { bind: bindSummary } : {}), migration: report.state },
    };
  }
  const secrets = secretsToRemove(report.state, target);
  for (const p of secrets)
    ctx.say(`  - remove secret ${p.keyId}${p.displayName ? ` (${p.displayName})` : ""} as ${ctx.actor}`);
  if (!opts.yes) {
    ctx.say("Nothing was changed (add --yes to do it).");
    return {
      exitCode: 0,
      report,
      summary: { migration: report.state, wouldRemove: secrets.map((p) => p.keyId) },
    };
  }
  for (const p of secrets) {
    ctx.audit.emit({
      ...base,
      action: "removeSecret",
      outcome: "planned",
      reason: Reason.SwitchedToCertificate,
      keyId: p.keyId,
      message: `about to remove secret ${p.keyId}`,
    });
    await checkpoint(ctx);
    await removeSecretAsOperator(operatorGraph(ctx, tenantId), target, p.keyId);
    ctx.audit.emit({
      ...base,
      action: "removeSecret",
      outcome: "succeeded",
      reason: Reason.SwitchedToCertificate,
      keyId: p.keyId,
      message: `removed secret ${p.keyId} as ${ctx.actor}: the service signs in with its certificate`,
    });
    await checkpoint(ctx);
  }
  ctx.say(`removed ${secrets.length} secret(s) from ${target.displayName}`);
  return { exitCode: 0, report, summary: { migration: report.state, removed: secrets.map((p) => p.keyId) } };
}

export function describeMigration(s: MigrationState): string {
  switch (s.state) {
    case "done":
      return "no client secret left";
    case "switched":
      return "switched to its certificate";
    case "notSwitched":
      return "still on its client secret";
    case "unknown":
      return "switch unknown";
  }
}

// --- status -----------------------------------------------------------------------------------

/**
 * For `rollover status`: for each binding whose target still holds a valid client secret, whether
 * its service has moved to the certificate (sign-in data read once, with Rollover's own reading
 * rights; without AuditLog.Read.All the answer is "unknown"). Keyed by "vault/certificate".
 */
export async function secretMigrations(
  r: Rollover,
  inspected: readonly { ref: { vaultName: string; certificateName: string }; obs?: BindingObservation }[],
  now: number,
): Promise<Map<string, MigrationState>> {
  const out = new Map<string, MigrationState>();
  const pending = inspected.filter(
    (i) => i.obs?.target?.passwordCredentials.some((p) => now < p.end) === true,
  );
  if (pending.length === 0) return out;
  const signIns = signInView(await readCredentialSignIns(r.graph.client(r.credential), r.graph.graphBaseUrl));
  for (const i of pending) {
    const obs = i.obs!;
    out.set(
      `${i.ref.vaultName}/${i.ref.certificateName}`,
      migrationState({
        target: obs.target!,
        certificateThumbprints: new Set(obs.versions.map((v) => v.thumbprint)),
        signIns,
        ...(obs.state.verifiedAt !== undefined ? { rolloverVerifiedAt: obs.state.verifiedAt } : {}),
      }),
    );
  }
  return out;
}
