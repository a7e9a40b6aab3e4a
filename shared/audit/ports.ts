/**
 * What the audit writer needs from the outside: somewhere to send records (the Logs Ingestion
 * API), somewhere to keep the chains' heads and somewhere to keep records that could not be sent
 * (Azure Storage). shared/azure/ implements them with the SDKs; the in-memory ones here serve
 * dry runs and pure tests.
 */
import type { AuditRecord } from "./record.js";
import { GENESIS_HASH } from "./record.js";

export interface FailedBatch {
  records: AuditRecord[];
  /** HTTP status, when the service answered. */
  status?: number;
  code?: string;
  /** Worth sending again later (outage, throttling, 5xx, network). False for 400/413. */
  retryable: boolean;
  /** One line, free of secrets. */
  message: string;
}

export interface SendResult {
  accepted: AuditRecord[];
  failed: FailedBatch[];
}

export interface AuditTransport {
  /**
   * Sends records; never throws for a refusal or an outage, it reports them in `failed`.
   * With `ordered`, calls go one at a time and stop at the first failure (the rest fail too).
   */
  send(records: AuditRecord[], options?: { ordered?: boolean }): Promise<SendResult>;
}

/**
 * A chain position signed in Key Vault with Rollover's audit signing key (`sign`, the key never
 * leaves the vault): `signature` is over `checkpointMessage(writer, sequence, hash)`.
 */
export interface SignedCheckpoint {
  sequence: number;
  hash: string;
  /** The key version that signed (a Key Vault key URL with its version). */
  kid: string;
  /** RS256 or ES256. */
  alg: string;
  /** base64url */
  signature: string;
}

/** What is signed for a chain position: one line per field, so no field can bleed into another. */
export function checkpointMessage(writer: string, sequence: number, hash: string): Uint8Array {
  return new TextEncoder().encode(`rollover-audit-checkpoint/v1\n${writer}\n${sequence}\n${hash}`);
}

/** Signs checkpoints (Key Vault `sign` with ROLLOVER_AUDIT_SIGNING_KEY_ID). */
export interface CheckpointSigner {
  sign(message: Uint8Array): Promise<{ kid: string; alg: string; signature: string }>;
}

/** Checks a checkpoint's signature with the signing key's public key. */
export interface CheckpointVerifier {
  verify(message: Uint8Array, c: { kid: string; alg: string; signature: string }): Promise<boolean>;
}

export interface ChainHead {
  sequence: number;
  hash: string;
  /** TimeGenerated of the record at `sequence` (ISO 8601). */
  lastTime?: string;
  /** The newest signed position (usually the head itself). */
  signed?: SignedCheckpoint;
  /** Opaque version for conditional saves; undefined while the chain has no head stored. */
  etag?: string;
}

export interface StoredChainHead {
  writer: string;
  sequence: number;
  hash: string;
  lastTime?: string;
  signed?: SignedCheckpoint;
}

export interface ChainStore {
  load(writer: string): Promise<ChainHead>;
  /** Saves the head if it is still at `expected.etag`; false when someone else moved it. */
  save(
    writer: string,
    head: { sequence: number; hash: string; lastTime?: string; signed?: SignedCheckpoint },
    expected: ChainHead,
  ): Promise<ChainHead | false>;
  /** Every chain's head (for the truncation and signature checks of `audit verify`). */
  list(): Promise<StoredChainHead[]>;
}

export type SpoolStatus = "pending" | "rejected";

export interface SpooledRecord {
  record: AuditRecord;
  status: SpoolStatus;
  /** Why it is here (status and code of the last failure). */
  reason: string;
}

export interface AuditSpool {
  /** Stores records durably; resolves only once they are stored. Storing the same record twice keeps one. */
  put(records: AuditRecord[], status: SpoolStatus, reason: string): Promise<void>;
  /** Pending records, by writer then sequence. */
  pending(limit?: number): Promise<AuditRecord[]>;
  remove(records: AuditRecord[]): Promise<void>;
  counts(): Promise<{ pending: number; rejected: number }>;
  /** Everything stored (tests, `audit verify`). */
  all(): Promise<SpooledRecord[]>;
}

/** Chain heads in memory (dry runs and tests). */
export class MemoryChainStore implements ChainStore {
  private readonly heads = new Map<string, Omit<StoredChainHead, "writer"> & { version: number }>();
  async load(writer: string): Promise<ChainHead> {
    const h = this.heads.get(writer);
    if (!h) return { sequence: 0, hash: GENESIS_HASH };
    const { version, ...head } = h;
    return { ...head, etag: String(version) };
  }
  async save(
    writer: string,
    head: Omit<StoredChainHead, "writer">,
    expected: ChainHead,
  ): Promise<ChainHead | false> {
    const current = this.heads.get(writer);
    if ((current ? String(current.version) : undefined) !== expected.etag) return false;
    const version = (current?.version ?? 0) + 1;
    this.heads.set(writer, { ...head, version });
    return { ...head, etag: String(version) };
  }
  async list(): Promise<StoredChainHead[]> {
    return [...this.heads].map(([writer, { version: _v, ...h }]) => ({ writer, ...h }));
  }
}

/** A spool in memory (tests; not durable, so not for production). */
export class MemorySpool implements AuditSpool {
  private readonly items = new Map<string, SpooledRecord>();
  private key(r: AuditRecord): string {
    return `${r.Writer}\u0000${String(r.Sequence).padStart(16, "0")}`;
  }
  async put(records: AuditRecord[], status: SpoolStatus, reason: string): Promise<void> {
    for (const record of records) this.items.set(this.key(record), { record, status, reason });
  }
  async pending(limit = Number.POSITIVE_INFINITY): Promise<AuditRecord[]> {
    return [...this.items]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .filter(([, v]) => v.status === "pending")
      .slice(0, limit)
      .map(([, v]) => v.record);
  }
  async remove(records: AuditRecord[]): Promise<void> {
    for (const r of records) this.items.delete(this.key(r));
  }
  async counts(): Promise<{ pending: number; rejected: number }> {
    let pending = 0;
    let rejected = 0;
    for (const v of this.items.values()) v.status === "pending" ? pending++ : rejected++;
    return { pending, rejected };
  }
  async all(): Promise<SpooledRecord[]> {
    return [...this.items.values()];
  }
}
