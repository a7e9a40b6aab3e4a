/**
 * Key Vault and Graph for joining and leaving Rollover (`rollover bind`, `unbind`,
 * `migrate-secret`). These run as the person at the keyboard: `DefaultAzureCredential`, in practice
 * their Azure CLI sign-in, with their own rights. Wire types end here; what leaves this file are
 * the core's plain values (shared/onboard/plan.ts).
 */
import type { TokenCredential } from "@azure/identity";
import { DefaultAzureCredential } from "@azure/identity";
import type { CertificatePolicy } from "@azure/keyvault-certificates";
import type { Client, GraphError } from "@microsoft/microsoft-graph-client";
import { bindingFromTags } from "../core/binding.js";
import type { Target, TargetType } from "../core/model.js";
import type { KeySize, KeyType, VaultCertificate } from "../onboard/plan.js";
import { authorityOptions } from "./entra.js";
import { type GraphEdge, isGraphNotFound, targetPath, toTarget, type WireObject } from "./graph.js";
import type { VaultEdge } from "./keyvault.js";

/**
 * The person running the command: `DefaultAzureCredential` without Rollover's managed identity
 * client id (environment, workload identity, Azure CLI, Azure Developer CLI, PowerShell …).
 */
export function operatorCredential(authorityHost: string, tenantId?: string): TokenCredential {
  const chain = new DefaultAzureCredential({
    ...authorityOptions(authorityHost),
    ...(tenantId ? { tenantId, additionallyAllowedTenants: [tenantId] } : {}),
  });
  if (!tenantId) return chain;
  // The `tenantId` option reaches only some credentials of the chain (Azure CLI, PowerShell,
  // workload identity); EnvironmentCredential signs in to AZURE_TENANT_ID whatever it says. Each
  // token asks for the tenant (`GetTokenOptions.tenantId`, which `additionallyAllowedTenants`
  // allows), so every credential of the chain signs in there, or fails.
  return { getToken: (scopes, options) => chain.getToken(scopes, { ...options, tenantId }) };
}

const SELECT = "id,appId,displayName,keyCredentials,passwordCredentials";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Targets matching an object id, an app id or an exact display name, among applications (agent
 * identity blueprints included) or, for `servicePrincipal`, service principals. Reading needs
 * `Application.Read.All` (delegated: any member user may read applications).
 */
export async function findTargets(
  client: Client,
  tenantId: string,
  query: string,
  type?: TargetType,
): Promise<Target[]> {
  const collection = type === "servicePrincipal" ? "servicePrincipals" : "applications";
  const fallback: TargetType = type === "servicePrincipal" ? "servicePrincipal" : "application";
  const keep = (t: Target) => !type || t.type === type;
  if (GUID.test(query)) {
    const id = query.toLowerCase();
    try {
      const o = (await client.api(`/${collection}/${id}`).select(SELECT).get()) as WireObject;
      const t = toTarget(o, tenantId, fallback);
      if (keep(t)) return [t];
    } catch (e) {
      if (!isGraphNotFound(e)) throw e;
    }
    const byAppId = (await client.api(`/${collection}`).filter(`appId eq '${id}'`).select(SELECT).get()) as {
      value?: WireObject[];
    };
    return (byAppId.value ?? []).map((o) => toTarget(o, tenantId, fallback)).filter(keep);
  }
  const out: Target[] = [];
  let url: string | undefined =
    `/${collection}?$filter=${encodeURIComponent(`displayName eq '${query.replace(/'/g, "''")}'`)}&$select=${SELECT}&$top=999`;
  while (url) {
    const page = (await client.api(url).get()) as { value?: WireObject[]; "@odata.nextLink"?: string };
    for (const o of page.value ?? []) {
      const t = toTarget(o, tenantId, fallback);
      if (keep(t)) out.push(t);
    }
    url = page["@odata.nextLink"];
  }
  return out;
}

/** Every certificate of the vault with its newest version's thumbprint, validity and binding tags. */
export async function listVaultCertificates(vault: VaultEdge): Promise<VaultCertificate[]> {
  const out: VaultCertificate[] = [];
  for await (const p of vault.client.listPropertiesOfCertificates()) {
    // List items name no version (Key Vault's list returns the certificate's id without one).
    if (!p.name || !p.x509Thumbprint || !p.notBefore || !p.expiresOn) continue;
    const parsed = bindingFromTags(vault.name, p.name, p.tags ?? {});
    out.push({
      name: p.name,
      thumbprint: Buffer.from(p.x509Thumbprint).toString("hex").toUpperCase(),
      notBefore: p.notBefore.getTime(),
      expires: p.expiresOn.getTime(),
      enabled: p.enabled !== false,
      ...(parsed?.ok ? { binding: parsed.binding } : {}),
    });
  }
  return out;
}

export interface BindingCertificateSpec {
  validityMonths: number;
  keyType: KeyType;
  keySize: KeySize;
}

/**
 * The policy of a binding certificate: self-signed; a non-exportable key (it never leaves Key
 * Vault: services sign with it there); client authentication; and an `EmailContacts` lifetime
 * action, so Key Vault warns and Rollover renews (an `AutoRenew` action would issue versions
 * Rollover did not ask for). Key Vault certificate policy:
 * learn.microsoft.com/azure/key-vault/certificates/about-certificates#certificate-policy.
 */
export function bindingCertificatePolicy(name: string, spec: BindingCertificateSpec): CertificatePolicy {
  return {
    issuerName: "Self",
    subject: `CN=${name}`,
    validityInMonths: spec.validityMonths,
    keyType: spec.keyType,
    keySize: spec.keySize,
    exportable: false,
    reuseKey: false,
    contentType: "application/x-pkcs12",
    keyUsage: ["digitalSignature"],
    enhancedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
    lifetimeActions: [{ action: "EmailContacts", lifetimePercentage: 80 }],
  };
}

export interface IssuedVersion {
  version: string;
  /** The certificate operation's request id (the version's provenance). */
  requestId: string | undefined;
}

/**
 * Creates a binding certificate with its tags (Key Vault: certificates/create; RBAC Key Vault
 * Certificates Officer) and waits for Key Vault to issue it. Returns undefined when it is still
 * issuing after `waitMs`.
 */
export async function createBindingCertificate(
  vault: VaultEdge,
  name: string,
  spec: BindingCertificateSpec,
  tags: Record<string, string>,
  waitMs: number,
  pollMs = 500,
): Promise<IssuedVersion | undefined> {
  const poller = await vault.client.beginCreateCertificate(name, bindingCertificatePolicy(name, spec), {
    tags,
    intervalInMs: pollMs,
  });
  // The poller's state carries the certificate operation (CreateCertificatePollOperationState),
  // though its public type does not say so.
  const opOf = () =>
    (poller.getOperationState() as { certificateOperation?: { requestId?: string } }).certificateOperation;
  const requestId = opOf()?.requestId;
  const deadline = Date.now() + waitMs;
  while (!poller.isDone() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, pollMs));
    await poller.poll();
  }
  if (!poller.isDone()) return undefined;
  const version = poller.getResult()?.properties.version;
  if (!version) return undefined;
  // Key Vault keeps a completed operation (GET …/pending) until it is deleted.
  const id =
    requestId ??
    opOf()?.requestId ??
    (await vault.client.getCertificateOperation(name)).getOperationState().certificateOperation?.requestId;
  return { version, requestId: id };
}

/**
 * Leaving Rollover: every version loses its `rollover-*` tags (other tags stay) and is disabled;
 * Key Vault keeps the versions (Key Vault: certificates/update; RBAC Key Vault Certificates
 * Officer). Oldest first, so the newest version's tags (what declares the binding) go last and a
 * run stopped half-way is finished by the next.
 */
export async function retireBindingVersions(vault: VaultEdge, name: string): Promise<number> {
  const versions: { version: string; created: number; tags: Record<string, string> }[] = [];
  for await (const p of vault.client.listPropertiesOfCertificateVersions(name)) {
    if (p.version)
      versions.push({
        version: p.version,
        created: p.createdOn?.getTime() ?? 0,
        tags: { ...(p.tags ?? {}) },
      });
  }
  versions.sort((a, b) => a.created - b.created);
  for (const v of versions) {
    const tags = Object.fromEntries(
      Object.entries(v.tags).filter(([k]) => !k.toLowerCase().startsWith("rollover-")),
    );
    await vault.client.updateCertificateProperties(name, v.version, { enabled: false, tags });
  }
  return versions.length;
}

/**
 * As the person: replaces the target's keyCredentials (read-modify-write). Graph
 * `PATCH /applications/{id}` (or `/servicePrincipals/{id}`): delegated `Application.ReadWrite.All`
 * with the Application Administrator or Cloud Application Administrator role, or as an owner of
 * the target (learn.microsoft.com/graph/api/application-update, "Permissions").
 */
export async function addKeyAsOperator(
  graph: GraphEdge,
  client: Client,
  target: Pick<Target, "id" | "type">,
  cer: Uint8Array,
  thumbprintHex: string,
  displayName: string,
  newKeyId: string,
): Promise<void> {
  await graph.appendCertificate(client, target.type, target.id, {
    cer,
    thumbprintHex,
    displayName,
    keyId: newKeyId,
  });
}

/** As the person: removes keys by keyId (same call and permission as addKeyAsOperator). */
export async function removeKeysAsOperator(
  graph: GraphEdge,
  client: Client,
  target: Pick<Target, "id" | "type">,
  keyIds: readonly string[],
): Promise<void> {
  const drop = new Set(keyIds.map((k) => k.toLowerCase()));
  await graph.updateKeyCredentials(client, target.type, target.id, (cur) =>
    cur.some((k) => drop.has(k.keyId.toLowerCase()))
      ? cur.filter((k) => !drop.has(k.keyId.toLowerCase()))
      : cur,
  );
}

/**
 * As the person: removes a client secret. Graph `POST /applications/{id}/removePassword`:
 * delegated `Application.ReadWrite.All` with an application administrator role, or as an owner
 * (learn.microsoft.com/graph/api/application-removepassword, "Permissions").
 */
export async function removeSecretAsOperator(
  client: Client,
  target: Pick<Target, "id" | "type">,
  keyId: string,
): Promise<void> {
  await client.api(`${targetPath(target.type, target.id)}/removePassword`).post({ keyId });
}

/** Key Vault's refusal of a create (400 BadParameter, 409 Conflict), as one line, or undefined. */
export function keyVaultRefusal(e: unknown): { status: number; message: string } | undefined {
  const err = e as { statusCode?: number; code?: string; message?: string };
  if (err.statusCode !== 400 && err.statusCode !== 409) return undefined;
  return {
    status: err.statusCode,
    message: `${err.code ? `${err.code}: ` : ""}${String(err.message ?? "").split("\n")[0]}`.slice(0, 300),
  };
}

/** Graph's refusal of a write (400, 403), as one line, or undefined. */
export function graphRefusal(e: unknown): { status: number; message: string } | undefined {
  const err = e as GraphError;
  if (err.statusCode !== 400 && err.statusCode !== 403) return undefined;
  return {
    status: err.statusCode,
    message: `${err.code ? `${err.code}: ` : ""}${String(err.message ?? "").split("\n")[0]}`.slice(0, 300),
  };
}
