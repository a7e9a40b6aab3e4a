/**
 * The decision core's model: plain values, as the edge reads them from Graph and Key Vault.
 * No SDK type crosses into the core; `shared/azure/` maps wire types to these.
 */
import type { EpochMs } from "./time.js";

export const TARGET_TYPES = ["application", "agentIdentityBlueprint", "servicePrincipal"] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

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
  /**
   * The version `rollover bind` had Key Vault issue (its provenance: a version Rollover caused,
   * with the certificate operation's request id), recorded by shared/onboard/provenance.ts.
   */
  issuedByBind?: { version: string; requestId?: string };
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
