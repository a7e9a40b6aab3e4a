/**
 * The decision core's model: plain values, as the edge reads them from Graph and Key Vault.
 * No SDK type crosses into the core; `shared/azure/` maps wire types to these.
 */
import type { EpochMs } from "./time.js";

export const TARGET_TYPES = ["application", "agentIdentityBlueprint", "servicePrincipal"] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

/**
 * Graph's `@odata.type` of each object Rollover handles (lower-cased; Graph's casing varies).
 * An agent identity blueprint is an application subtype, its principal a service principal
 * subtype (learn.microsoft.com/entra/agent-id/identity-platform/agent-blueprint).
 */
const TYPE_BY_ODATA: Readonly<Record<string, TargetType>> = {
  "#microsoft.graph.application": "application",
  "#microsoft.graph.agentidentityblueprint": "agentIdentityBlueprint",
  "#microsoft.graph.serviceprincipal": "servicePrincipal",
  "#microsoft.graph.agentidentityblueprintprincipal": "servicePrincipal",
};

/** The target type of a Graph object's `@odata.type`, or undefined for a type Rollover does not handle. */
export function targetTypeOfOdata(odataType: string | undefined): TargetType | undefined {
  const key = odataType?.toLowerCase();
  return key !== undefined && Object.hasOwn(TYPE_BY_ODATA, key) ? TYPE_BY_ODATA[key] : undefined;
}

/** A certificate credential on an Entra object (Graph `keyCredential`). */
export interface KeyCredential {
  keyId: string;
  displayName?: string | null;
  type: string; // AsymmetricX509Cert, …
  usage: string; // Verify, Sign
  start: EpochMs;
  end: EpochMs;
  /** SHA-1 thumbprint of the certificate's DER, upper-case hex, computed from the key itself. */
  thumbprint?: string;
}

/** A client secret on an Entra object (Graph `passwordCredential`); the secret text is never known. */
export interface PasswordCredential {
  keyId: string;
  displayName?: string | null;
  hint?: string | null;
  start: EpochMs;
  end: EpochMs;
}

/** An application, agent identity blueprint or service principal, with its credentials. */
export interface Target {
  tenantId: string;
  id: string;
  appId: string;
  displayName: string;
  type: TargetType;
  keyCredentials: KeyCredential[];
  passwordCredentials: PasswordCredential[];
}

/** One version of a Key Vault certificate. */
export interface CertificateVersion {
  version: string;
  /** SHA-1 thumbprint of the certificate, upper-case hex (Key Vault's x5t, decoded). */
  thumbprint: string;
  notBefore: EpochMs;
  expires: EpochMs;
  created: EpochMs;
  enabled: boolean;
}

export type BindingMode = "self" | "managed" | "auto";

/** What a certificate's `rollover-*` tags declare (see DESIGN: Key Vault tags are the truth). */
export interface Binding {
  vaultName: string;
  certificateName: string;
  targetId: string;
  targetType: TargetType;
  /** Tenant of the target; undefined means the deployment's own tenant. */
  tenantId?: string;
  /** The target's client (app) id, from `rollover-client-id`: needed where Rollover signs in as the target. */
  clientId?: string;
  mode: BindingMode;
}

/** Whether Key Vault can issue a new version on its own for this certificate's policy. */
export interface CertificatePolicySummary {
  issuerName: string;
  /** False for `Unknown` issuers (manual CSR merge): Rollover cannot renew those. */
  renewable: boolean;
  /** The validity of the versions Key Vault issues (x509 `validityInMonths`), when read. */
  validityMonths?: number;
  /** The policy lets the private key be exported (`key_props.exportable`). */
  exportable?: boolean;
  /**
   * The triggers of the policy's lifetime actions (`lifetime_actions[].trigger`): Key Vault's own
   * near-expiry window. Empty or absent: Key Vault's default, 30 days before expiry.
   */
  lifetimeTriggers?: LifetimeTrigger[];
}

/** One lifetime action's trigger: days before expiry, or a percentage of the lifetime. */
export interface LifetimeTrigger {
  daysBeforeExpiry?: number;
  lifetimePercentage?: number;
}

/** A version Key Vault issued in a certificate operation Rollover started. */
export interface IssuedVersion {
  version: string;
  /** The certificate operation's `request_id`. */
  requestId: string;
  at: EpochMs;
}

/** A version a person adopted on purpose (`rollover adopt`). */
export interface AdoptedVersion {
  version: string;
  /** Who adopted it: object id and, when known, user principal name from their token. */
  by: string;
  at: EpochMs;
}

/**
 * Where the versions Rollover may attach came from. Kept in the state record (Rollover's own
 * storage), which people with rights on the vault alone cannot write.
 */
export interface Provenance {
  issued: IssuedVersion[];
  adopted: AdoptedVersion[];
  /** A certificate operation Rollover started whose version is not known yet. */
  pending?: {
    requestId: string;
    /** SHA-256 (hex) of the public key in the operation's CSR: Key Vault generated that key. */
    spkiSha256: string;
    at: EpochMs;
  };
}

export type Phase = "pending" | "attached" | "verified" | "active";

/** The state record: a journal and cache of what Rollover did; never the truth. */
export interface StateRecord {
  /** The version whose key Rollover last verified by acquiring a token with it. */
  verifiedVersion?: string;
  verifiedAt?: EpochMs;
  /** The version a renewal was requested for (idempotency of renew). */
  renewRequestedFor?: string;
  attempts: number;
  nextAttemptAt?: EpochMs;
  lastError?: string;
  /** The step whose failures `attempts` counts (consecutive failures of the same step). */
  failedStep?: "renew" | "attach" | "verify" | "retire";
  /** When Rollover last asked Key Vault for a new version: at most one per renewal buffer. */
  renewRequestedAt?: EpochMs;
  /**
   * Which versions Rollover may attach. Absent on records written before provenance existed;
   * then the version verified then counts as adopted (the migration).
   */
  provenance?: Provenance;
  /**
   * Thumbprints of the keys Rollover attached to the target for this binding, newest last (at
   * most ATTACHED_KEEP). The sweep treats only these, and keys of the binding's versions, as
   * Rollover's own: any other valid key is a person's and is never removed.
   */
  attached?: string[];
  /**
   * A change started and not yet recorded as done (written before acting, cleared after). If a
   * run dies in between, the next run checks whether the change took effect and records it.
   */
  inFlight?: {
    kind: "renew" | "attach" | "retire";
    version?: string;
    keyId?: string;
    thumbprint?: string;
    at: EpochMs;
  };
  /**
   * Changes to the target Graph accepted recently, trusted over a read that does not show them
   * yet (eventual consistency; see own-writes.ts).
   */
  writes?: OwnWrite[];
}

/** A change to a target's keys that Graph accepted. */
export type OwnWrite =
  | { kind: "attach"; keyId: string; thumbprint: string; start: EpochMs; end: EpochMs; at: EpochMs }
  | { kind: "retire"; keyId: string; at: EpochMs };

export const EMPTY_STATE: StateRecord = { attempts: 0 };

/** How many attached thumbprints a state record keeps. */
export const ATTACHED_KEEP = 16;

/** The state's attached thumbprints with `thumbprint` added (newest last, at most ATTACHED_KEEP). */
export function withAttached(state: StateRecord, thumbprint: string): StateRecord {
  const t = thumbprint.toUpperCase();
  const list = [...(state.attached ?? []).filter((x) => x !== t), t].slice(-ATTACHED_KEEP);
  return { ...state, attached: list };
}
