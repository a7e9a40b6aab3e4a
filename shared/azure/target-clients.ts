/**
 * The Graph clients and credentials a rotation target needs: Rollover's own client per tenant
 * (reads; writes in managed mode), and, in self mode or for a target in another tenant, a client
 * signed in *as the target* with a certificate whose key stays in Key Vault (Key Vault's `sign`
 * makes the client assertion and the proof-of-possession).
 */
import type { TokenCredential } from "@azure/identity";
import type { Client } from "@microsoft/microsoft-graph-client";
import { cached } from "../cache.js";
import { sameTenant } from "../core/ids.js";
import type { Target, TargetType } from "../core/model.js";
import { certificateCredential } from "./entra.js";
import type { GraphEdge } from "./graph.js";
import type { VaultEdge, VersionMaterial } from "./keyvault.js";
import { proofOfPossession } from "./signed-jwt.js";

export interface SelfModeDeps {
  graph: GraphEdge;
  authorityHost: string;
  now: () => number;
}

export interface TargetClientDeps extends SelfModeDeps {
  /** Rollover's own identity and its home tenant. */
  rollover: { credential: TokenCredential; tenantId: string };
  /** Credential of a target in another tenant (multi-tenant bindings); default: Rollover's own. */
  readCredentialFor?: (tenantId: string) => TokenCredential | undefined;
}

/**
 * Graph clients of one rotation engine: Rollover's own per tenant, and the target's own per
 * signing key. Both are kept, so a token is requested once and used for its lifetime: the
 * credential behind a client keeps the token it got and asks Entra again only when it is near
 * expiry (@azure/identity's MSAL token cache, which reads `expires_in` of the token response).
 * Tokens stay inside the credential; nothing here logs or returns them.
 */
export class TargetClients {
  private readonly graphClients = new Map<string, Client>();
  private readonly targetClients = new Map<string, Client>();

  constructor(private readonly deps: TargetClientDeps) {}

  /** Rollover's own Graph client in a tenant: reads targets, and writes in managed mode. */
  rollover(tenantId: string): Client {
    const key = `rollover/${tenantId}`;
    let c = this.graphClients.get(key);
    if (!c) {
      const cred = sameTenant(tenantId, this.deps.rollover.tenantId)
        ? this.deps.rollover.credential
        : (this.deps.readCredentialFor?.(tenantId) ?? this.deps.rollover.credential);
      c = this.deps.graph.client(cred);
      this.graphClients.set(key, c);
    }
    return c;
  }

  /** A Graph client signed in as the target (`clientId`) with the key of `signer` (kept). */
  asTargetWith(tenantId: string, clientId: string, signer: VersionMaterial, vault: VaultEdge): Client {
    return cached(
      this.targetClients,
      `${tenantId}/${clientId}/${signer.kid}`.toLowerCase(),
      () => targetGraph(this.deps, tenantId, clientId, signer, vault),
      1024,
    );
  }

  /** Self mode: see `asTarget`; the client (and its token) is kept, the proof is made anew. */
  async asTarget(
    vault: VaultEdge,
    certificateName: string,
    tenantId: string,
    target: Pick<Target, "id" | "appId">,
    signWith: string,
  ): Promise<{ client: Client; proof: string }> {
    return asTarget(this.deps, vault, certificateName, tenantId, target, signWith, (signer) =>
      this.asTargetWith(tenantId, target.appId, signer, vault),
    );
  }
}

/**
 * Self mode: a Graph client signed in as the target and a proof-of-possession, both made with
 * the key of `signWith` (a version whose certificate is on the target) by Key Vault's sign.
 * The engine (attach, retire) and the sweep (removeKey) both act as the target through this.
 */
export async function asTarget(
  deps: SelfModeDeps,
  vault: VaultEdge,
  certificateName: string,
  tenantId: string,
  target: Pick<Target, "id" | "appId">,
  signWith: string,
  /** The Graph client for the signer: a new one unless the caller keeps them. */
  clientFor: (signer: VersionMaterial) => Client = (signer) =>
    targetGraph(deps, tenantId, target.appId, signer, vault),
): Promise<{ client: Client; proof: string }> {
  const signer = await vault.material(certificateName, signWith);
  return { client: clientFor(signer), proof: await proofFor(deps, vault, target, signer) };
}

/** Graph's proof-of-possession for `addKey`/`removeKey` on `target`, signed in Key Vault. */
function proofFor(
  deps: SelfModeDeps,
  vault: VaultEdge,
  target: Pick<Target, "id">,
  signer: VersionMaterial,
): Promise<string> {
  return proofOfPossession({
    objectId: target.id,
    certificate: signer,
    sign: vault.signer(signer.kid),
    now: deps.now(),
  });
}

function targetGraph(
  deps: SelfModeDeps,
  tenantId: string,
  clientId: string,
  signer: VersionMaterial,
  vault: VaultEdge,
): Client {
  return deps.graph.client(versionCredential(deps, tenantId, clientId, signer, vault));
}

/**
 * A credential that signs in as the target (`clientId`) with the certificate of one Key Vault
 * version: the client assertion carries the version's certificate and is signed by Key Vault's
 * `sign` on its key. Used to act as the target (self mode), to verify a new version, and by
 * `rollover bind`.
 */
export function versionCredential(
  deps: Pick<SelfModeDeps, "authorityHost" | "now">,
  tenantId: string,
  clientId: string,
  signer: VersionMaterial,
  vault: VaultEdge,
): TokenCredential {
  return certificateCredential({
    authorityHost: deps.authorityHost,
    tenantId,
    clientId,
    certificate: signer,
    sign: vault.signer(signer.kid),
    now: deps.now,
  });
}

/**
 * What a 403 on a self-mode change of an agent identity blueprint means: its own principal lacks
 * AgentIdentityBlueprint.AddRemoveCreds.All (agentidentityblueprint-addkey.md lists no
 * permission-free self-roll; docs/permissions.md).
 */
export function permissionHint(e: unknown, targetType: TargetType, stepKind: string): string {
  const status = (e as { statusCode?: number }).statusCode;
  if (status !== 403 || targetType !== "agentIdentityBlueprint") return "";
  if (stepKind !== "attach" && stepKind !== "retire") return "";
  return "; grant the blueprint's principal AgentIdentityBlueprint.AddRemoveCreds.All so it can roll its own key";
}
