/**
 * Builds a rotation engine wired to a running sandbox and its Azurite, the way the Functions app
 * and the CLI wire it: real SDK clients, Rollover's managed identity from the sandbox's endpoint.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import type { SandboxHandle } from "../../sandbox/index.js";
import type { CertificatePolicyInit } from "../../sandbox/types.js";
import { MemoryAuditSink } from "../../shared/audit/events.js";
import { loadConfig } from "../../shared/config.js";
import { policiesFrom } from "../../shared/core/plan.js";
import { GraphEdge } from "../../shared/azure/graph.js";
import { VaultEdge } from "../../shared/azure/keyvault.js";
import { LeaseManager, STATE_TABLE, StateStore, tableClient } from "../../shared/azure/storage.js";
import { type EngineDeps, RotationEngine } from "../../shared/rotation/engine.js";

export interface TestEngine {
  engine: RotationEngine;
  audit: MemoryAuditSink;
  deps: EngineDeps;
  vault: VaultEdge;
}

export function rolloverEnv(sb: SandboxHandle): Record<string, string> {
  return sb.env;
}

/** Points this process's managed identity settings at the sandbox (as App Service would). */
export function useSandboxIdentity(sb: SandboxHandle): void {
  process.env.IDENTITY_ENDPOINT = sb.env.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = sb.env.IDENTITY_HEADER;
}

export function makeEngine(
  sb: SandboxHandle,
  overrides: Partial<EngineDeps> & { settings?: Record<string, string> } = {},
): TestEngine {
  useSandboxIdentity(sb);
  const env = { ...sb.env, ...(overrides.settings ?? {}) };
  const config = loadConfig(env);
  const credential = new ManagedIdentityCredential({ clientId: sb.ctx.managedIdentity.clientId });
  const vault = new VaultEdge(sb.urls.vaultUrl, credential);
  const storage = { connectionString: env.AzureWebJobsStorage };
  const audit = new MemoryAuditSink();
  const deps: EngineDeps = {
    vaults: new Map([[vault.name, vault]]),
    graph: new GraphEdge(config.graphBaseUrl),
    rollover: {
      credential,
      tenantId: sb.urls.tenantId,
      selfIds: [sb.ctx.managedIdentity.objectId, sb.ctx.managedIdentity.clientId],
    },
    authorityHost: config.authorityHost,
    state: new StateStore(tableClient(storage, STATE_TABLE)),
    leases: LeaseManager.fromSettings(storage),
    audit,
    policy: policiesFrom(config).binding,
    verifyTimeoutMs: 20_000,
    renewWaitMs: 20_000,
    now: () => sb.ctx.clock.now(),
    ...overrides,
  };
  return { engine: new RotationEngine(deps), audit, deps, vault };
}

const DAY_MS = 86_400_000;

/**
 * The policy of a binding as Rollover leaves it after a renewal: a non-exportable key, and Key
 * Vault's 80 % lifetime action a notice (EmailContacts), not an AutoRenew that would issue
 * versions Rollover did not ask for.
 */
export const ROLLOVER_POLICY: CertificatePolicyInit = {
  exportable: false,
  lifetimeActions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "EmailContacts" } }],
};

/**
 * A binding that is due for renewal: an application whose only key is the first version of a
 * Key Vault certificate tagged with it, valid for 365 days and expiring in `expiresInDays`.
 */
export async function seedDueBinding(
  sb: SandboxHandle,
  name: string,
  opts: { expiresInDays?: number; policy?: CertificatePolicyInit } = {},
): Promise<{ app: { id: string; appId: string }; ref: { vaultName: string; certificateName: string } }> {
  const { ctx, urls } = sb;
  const t = urls.tenantId;
  const app = ctx.directory.createApplication(t, { displayName: name });
  const now = ctx.clock.now();
  const expires = now + (opts.expiresInDays ?? 25) * DAY_MS;
  const v1 = await ctx.vault.createCertificate(name, {
    policy: opts.policy ?? ROLLOVER_POLICY,
    tags: { "rollover-target": app.id },
    notBefore: Math.floor((expires - 365 * DAY_MS) / 1000),
    expires: Math.floor(expires / 1000),
  });
  ctx.directory.addKeyCredential(t, app.id, { certificateDer: v1.cerDer });
  return { app, ref: { vaultName: sandboxVaultName(sb), certificateName: name } };
}

/** The vault's name as Rollover derives it from the sandbox URL (host:port). */
export function sandboxVaultName(sb: SandboxHandle): string {
  const u = new URL(sb.urls.vaultUrl);
  return `${u.hostname}:${u.port}`;
}
