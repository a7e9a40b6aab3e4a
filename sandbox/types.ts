/**
 * The contracts between the sandbox's services. Each service owns its store; other services and
 * the seeds reach it only through these interfaces (Entra checks assertions against the
 * directory's key credentials, Event Grid watches the vault, seeds fill both).
 */
import type { VirtualClock } from "./clock.js";
import type { OperatorIdentity } from "./entra/operator.js";
import type { FaultInjector } from "./faults.js";
import type { Route } from "./http.js";
import type { TokenService } from "./tokens.js";

export type DirectoryObjectKind =
  | "application"
  | "agentIdentityBlueprint"
  | "servicePrincipal"
  | "agentIdentityBlueprintPrincipal"
  | "agentIdentity"
  | "managedIdentity";

/** A key credential as the directory stores it (Graph's `keyCredential`, `key` as DER). */
export interface StoredKeyCredential {
  keyId: string;
  /** As Graph returns it for certificates (see research: graph-entra.md §2.1). */
  customKeyIdentifier: string;
  displayName: string | null;
  type: "AsymmetricX509Cert";
  usage: "Verify";
  startDateTime: string;
  endDateTime: string;
  /** The certificate (DER). */
  key: Uint8Array;
}

export interface StoredPasswordCredential {
  keyId: string;
  displayName: string | null;
  hint: string;
  startDateTime: string;
  endDateTime: string;
  /** Kept to check client secrets; never returned by Graph after creation. */
  secretText: string;
}

export interface DirectoryObjectSnapshot {
  tenantId: string;
  id: string;
  appId: string;
  kind: DirectoryObjectKind;
  displayName: string;
  keyCredentials: StoredKeyCredential[];
  passwordCredentials: StoredPasswordCredential[];
  owners: string[];
  /** Application permissions granted to this principal (service principals only), e.g. `Application.ReadWrite.OwnedBy`. */
  appRoles: string[];
  /** For agent identities: the blueprint's appId. */
  blueprintAppId?: string;
}

export interface NewApplication {
  displayName: string;
  kind?: "application" | "agentIdentityBlueprint";
  id?: string;
  appId?: string;
  /** Also create the service principal (blueprint principal for blueprints). Default true. */
  withServicePrincipal?: boolean;
}

export interface DirectoryStore {
  readonly defaultTenantId: string;
  tenantIds(): string[];
  addTenant(tenantId: string, displayName?: string): void;
  /** The tenant's name (what Entra's messages call it), undefined when there is no such tenant. */
  tenantDisplayName(tenantId: string): string | undefined;
  createApplication(tenantId: string, init: NewApplication): DirectoryObjectSnapshot;
  createServicePrincipal(
    tenantId: string,
    init: {
      appId: string;
      displayName?: string;
      kind?: "servicePrincipal" | "agentIdentity" | "managedIdentity";
      id?: string;
      blueprintAppId?: string;
    },
  ): DirectoryObjectSnapshot;
  /**
   * Adds a certificate (DER) as a key credential; dates default to the certificate's validity,
   * customKeyIdentifier to its thumbprint (a caller of Graph may set it to anything).
   */
  addKeyCredential(
    tenantId: string,
    objectId: string,
    cred: {
      certificateDer: Uint8Array;
      displayName?: string;
      startDateTime?: string;
      endDateTime?: string;
      keyId?: string;
      /** Any value the writer chose; defaults to the thumbprint (base64 of the SHA-1 bytes). */
      customKeyIdentifier?: string;
    },
  ): StoredKeyCredential;
  addPasswordCredential(
    tenantId: string,
    objectId: string,
    cred: { displayName?: string; startDateTime?: string; endDateTime: string; keyId?: string },
  ): StoredPasswordCredential;
  addOwner(tenantId: string, objectId: string, ownerObjectId: string): void;
  /** Grants an application permission (app role of Microsoft Graph) to a service principal. */
  grantAppRole(tenantId: string, servicePrincipalId: string, role: string): void;
  get(tenantId: string, objectId: string): DirectoryObjectSnapshot | undefined;
  findByAppId(
    tenantId: string,
    appId: string,
    kind?: "application" | "servicePrincipal",
  ): DirectoryObjectSnapshot | undefined;
  count(tenantId: string): number;
  reset(): void;
}

export interface CertificatePolicyInit {
  subject?: string;
  validityInMonths?: number;
  keyType?: "RSA" | "RSA-HSM";
  keySize?: number;
  exportable?: boolean;
  contentType?: "application/x-pkcs12" | "application/x-pem-file";
  issuerName?: string;
  /** Lifetime actions as Key Vault stores them. */
  lifetimeActions?: Array<{
    trigger: { lifetime_percentage?: number; days_before_expiry?: number };
    action: { action_type: "AutoRenew" | "EmailContacts" };
  }>;
}

export interface CertificateVersionInfo {
  name: string;
  version: string;
  /** `https://{host}/certificates/{name}/{version}` */
  id: string;
  /** `https://{host}/keys/{name}/{version}` */
  kid: string;
  cerDer: Uint8Array;
  /** SHA-1 of the DER, upper-case hex. */
  thumbprintHex: string;
  notBefore: number; // epoch seconds
  expires: number; // epoch seconds
  created: number; // epoch seconds
  enabled: boolean;
  tags: Record<string, string>;
}

export interface VaultStore {
  readonly name: string;
  readonly resourceId: string;
  readonly url: string;
  /**
   * Issues a certificate version at once (seeds and tests). `notBefore`/`expires` override the
   * policy's validity so a seed can make a certificate that is already near expiry.
   */
  createCertificate(
    name: string,
    init?: {
      policy?: CertificatePolicyInit;
      tags?: Record<string, string>;
      notBefore?: number;
      expires?: number;
    },
  ): Promise<CertificateVersionInfo>;
  latest(name: string): CertificateVersionInfo | undefined;
  versions(name: string): CertificateVersionInfo[];
  /** Names of all certificates (not deleted). */
  certificateNames(): string[];
  /** Called with every new version, whoever made it (API, auto-renew, seed). */
  onNewVersion(listener: (info: CertificateVersionInfo) => void): void;
  /** Resolves when every `Self` issuance under way has finished: tests wait on it, not on a sleep. */
  settle(): Promise<void>;
  reset(): void;
}

export interface IngestedRecord {
  dcrImmutableId: string;
  stream: string;
  receivedAt: string;
  record: Record<string, unknown>;
}

export interface LogsStore {
  records(filter?: { stream?: string }): IngestedRecord[];
  /** Edits or deletes stored records (tamper tests). */
  tamper(index: number, change: Record<string, unknown> | null): void;
  reset(): void;
}

/** One token the sandbox's Entra issued, for the sign-in log. */
export interface SignInEntry {
  time: string;
  tenantId: string;
  clientId: string;
  objectId?: string;
  credentialType: "certificate" | "secret" | "managedIdentity" | "federated" | "agentExchange";
  /** SHA-1 thumbprint (hex, upper-case) of the certificate used, or the password credential's keyId. */
  credential?: string;
  /** keyId of the directory credential the client presented, when it matched one. */
  keyId?: string;
  /** The token request's id (the sign-in's `lastSignInRequestId` in Graph's reports). */
  requestId?: string;
  resource: string;
  success: boolean;
  errorCode?: number;
}

export interface SignInLog {
  add(entry: SignInEntry): void;
  entries(): SignInEntry[];
  reset(): void;
}

export interface SandboxUrls {
  baseUrl: string;
  tenantId: string;
  authorityHost: string;
  graphBaseUrl: string;
  vaultUrl: string;
  vaultName: string;
  vaultResourceId: string;
  logsIngestionEndpoint: string;
  dcrImmutableId: string;
  streamName: string;
  caCertPath: string;
  managedIdentityEndpoint: string;
  controlUrl: string;
}

/** Everything a service module may use. */
export interface SandboxContext {
  urls: SandboxUrls;
  clock: VirtualClock;
  tokens: TokenService;
  faults: FaultInjector;
  directory: DirectoryStore;
  vault: VaultStore;
  logs: LogsStore;
  signIns: SignInLog;
  /** Rollover's own managed identity in the home tenant. */
  managedIdentity: { clientId: string; objectId: string; header: string };
  /** The person at the keyboard (`rollover bind` and friends): see entra/operator.ts. */
  operator: OperatorIdentity;
  log(message: string): void;
}

/** A service module: builds its routes from the context. */
export type ServiceModule = (ctx: SandboxContext) => Route[];
