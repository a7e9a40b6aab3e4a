/**
 * Azure Table storage for the audit trail (Azurite locally), in the Functions host's own account:
 *
 *   RolloverAuditChains  one entity per writer chain: the last sequence number and hash. Saved
 *                        with the entity's ETag (If-Match), so two processes never take the
 *                        same position; the chain goes on after a restart from here.
 *   RolloverAuditSpool   records the Logs Ingestion API did not take: PartitionKey the writer,
 *                        RowKey the zero-padded sequence (so a partition lists in chain order),
 *                        the record's JSON in `Record0…RecordN` (32 K characters a property).
 */
import type { TableClient, TableEntity, TransactionAction } from "@azure/data-tables";
import type {
  AuditSpool,
  ChainHead,
  ChainStore,
  SpooledRecord,
  SpoolStatus,
  StoredChainHead,
} from "../audit/ports.js";
import { type AuditRecord, GENESIS_HASH } from "../audit/record.js";
import { ensureTable, type StorageSettings, tableClient, tableKey } from "./storage.js";

export const CHAINS_TABLE = "RolloverAuditChains";
export const SPOOL_TABLE = "RolloverAuditSpool";
const PART_CHARS = 30_000;
const MAX_TRANSACTION_CHARS = 1_500_000;

/** The host's storage account (a connection string, or an account name with a credential). */
export type AuditStorageTarget = StorageSettings;

function statusOf(e: unknown): number | undefined {
  return (e as { statusCode?: number })?.statusCode;
}

export class TableChainStore implements ChainStore {
  readonly client: TableClient;
  constructor(target: AuditStorageTarget) {
    this.client = tableClient(target, CHAINS_TABLE);
  }

  async load(writer: string): Promise<ChainHead> {
    await ensureTable(this.client);
    try {
      const e = await this.client.getEntity<HeadEntity>("chain", tableKey(writer));
      return { ...fromHeadEntity(e), ...(e.etag ? { etag: e.etag } : {}) };
    } catch (e) {
      if (statusOf(e) === 404) return { sequence: 0, hash: GENESIS_HASH };
      throw e;
    }
  }

  async save(
    writer: string,
    head: Omit<StoredChainHead, "writer">,
    expected: ChainHead,
  ): Promise<ChainHead | false> {
    await ensureTable(this.client);
    const entity = {
      partitionKey: "chain",
      rowKey: tableKey(writer),
      Writer: writer,
      // As text: exact for any length of chain, and free of the Int64 wire format.
      Sequence: String(head.sequence),
      Hash: head.hash,
      UpdatedAt: new Date(),
      ...(head.lastTime ? { LastTime: head.lastTime } : {}),
      ...(head.signed
        ? {
            SignedSequence: String(head.signed.sequence),
            SignedHash: head.signed.hash,
            SignatureKid: head.signed.kid,
            SignatureAlg: head.signed.alg,
            Signature: head.signed.signature,
          }
        : {}),
    };
    try {
      const res =
        expected.etag === undefined
          ? await this.client.createEntity(entity)
          : await this.client.updateEntity(entity, "Replace", { etag: expected.etag });
      return { ...head, ...(res.etag ? { etag: res.etag } : {}) };
    } catch (e) {
      const s = statusOf(e);
      if (s === 409 || s === 412) return false;
      throw e;
    }
  }

  async list(): Promise<StoredChainHead[]> {
    await ensureTable(this.client);
    const out: StoredChainHead[] = [];
    for await (const e of this.client.listEntities<HeadEntity>()) {
      out.push({ writer: e.Writer, ...fromHeadEntity(e) });
    }
    return out;
  }
}

interface HeadEntity {
  Writer: string;
  Sequence: string;
  Hash: string;
  LastTime?: string;
  SignedSequence?: string;
  SignedHash?: string;
  SignatureKid?: string;
  SignatureAlg?: string;
  Signature?: string;
}

function fromHeadEntity(e: HeadEntity): Omit<StoredChainHead, "writer"> {
  return {
    sequence: Number(e.Sequence),
    hash: e.Hash,
    ...(e.LastTime ? { lastTime: e.LastTime } : {}),
    ...(e.SignedSequence && e.SignedHash && e.SignatureKid && e.SignatureAlg && e.Signature
      ? {
          signed: {
            sequence: Number(e.SignedSequence),
            hash: e.SignedHash,
            kid: e.SignatureKid,
            alg: e.SignatureAlg,
            signature: e.Signature,
          },
        }
      : {}),
  };
}

type SpoolEntity = TableEntity<Record<string, unknown>>;

export class TableSpool implements AuditSpool {
  readonly client: TableClient;
  constructor(target: AuditStorageTarget) {
    this.client = tableClient(target, SPOOL_TABLE);
  }

  private static rowKey(r: AuditRecord): string {
    return String(r.Sequence).padStart(16, "0");
  }

  private static toEntity(r: AuditRecord, status: SpoolStatus, reason: string): SpoolEntity {
    const json = JSON.stringify(r);
    const entity: SpoolEntity = {
      partitionKey: tableKey(r.Writer),
      rowKey: TableSpool.rowKey(r),
      RecordId: r.RecordId,
      Status: status,
      Reason: reason.slice(0, 1000),
      SpooledAt: new Date(),
      Parts: Math.max(1, Math.ceil(json.length / PART_CHARS)),
    };
    for (let i = 0; i * PART_CHARS < json.length; i++) {
      entity[`Record${i}`] = json.slice(i * PART_CHARS, (i + 1) * PART_CHARS);
    }
    return entity;
  }

  private static fromEntity(e: Record<string, unknown>): SpooledRecord {
    const parts = Number(e.Parts ?? 1);
    let json = "";
    for (let i = 0; i < parts; i++) json += String(e[`Record${i}`] ?? "");
    return {
      record: JSON.parse(json) as AuditRecord,
      status: e.Status === "rejected" ? "rejected" : "pending",
      reason: String(e.Reason ?? ""),
    };
  }

  /** Runs actions in transactions (one partition, ≤ 100 actions, bounded size each). */
  private async transact(actions: Array<{ pk: string; action: TransactionAction; size: number }>) {
    const byPartition = new Map<string, typeof actions>();
    for (const a of actions) {
      let list = byPartition.get(a.pk);
      if (!list) {
        list = [];
        byPartition.set(a.pk, list);
      }
      list.push(a);
    }
    for (const list of byPartition.values()) {
      let batch: TransactionAction[] = [];
      let size = 0;
      const run = async () => {
        if (batch.length) await this.client.submitTransaction(batch);
        batch = [];
        size = 0;
      };
      for (const a of list) {
        if (batch.length === 100 || (batch.length && size + a.size > MAX_TRANSACTION_CHARS)) await run();
        batch.push(a.action);
        size += a.size;
      }
      await run();
    }
  }

  async put(records: AuditRecord[], status: SpoolStatus, reason: string): Promise<void> {
    await ensureTable(this.client);
    await this.transact(
      records.map((r) => {
        const entity = TableSpool.toEntity(r, status, reason);
        return {
          pk: entity.partitionKey,
          action: ["upsert", entity, "Replace"] as TransactionAction,
          size: JSON.stringify(entity).length,
        };
      }),
    );
  }

  async pending(limit = Number.POSITIVE_INFINITY): Promise<AuditRecord[]> {
    await ensureTable(this.client);
    const out: AuditRecord[] = [];
    for await (const e of this.client.listEntities({ queryOptions: { filter: "Status eq 'pending'" } })) {
      out.push(TableSpool.fromEntity(e).record);
      if (out.length >= limit) break;
    }
    return out;
  }

  async remove(records: AuditRecord[]): Promise<void> {
    await ensureTable(this.client);
    try {
      await this.transact(
        records.map((r) => ({
          pk: tableKey(r.Writer),
          action: ["delete", { partitionKey: tableKey(r.Writer), rowKey: TableSpool.rowKey(r) }],
          size: 100,
        })),
      );
    } catch {
      // A transaction fails whole when one entity is already gone (another flush took it):
      // delete one by one, and a missing one is fine.
      for (const r of records) {
        try {
          await this.client.deleteEntity(tableKey(r.Writer), TableSpool.rowKey(r));
        } catch (e) {
          if (statusOf(e) !== 404) throw e;
        }
      }
    }
  }

  async counts(): Promise<{ pending: number; rejected: number }> {
    await ensureTable(this.client);
    let pending = 0;
    let rejected = 0;
    for await (const e of this.client.listEntities({ queryOptions: { select: ["Status"] } })) {
      e.Status === "rejected" ? rejected++ : pending++;
    }
    return { pending, rejected };
  }

  async all(): Promise<SpooledRecord[]> {
    await ensureTable(this.client);
    const out: SpooledRecord[] = [];
    for await (const e of this.client.listEntities()) out.push(TableSpool.fromEntity(e));
    return out;
  }
}

/** The chain store and the spool in one storage account. */
export function openAuditStorage(target: AuditStorageTarget): { chains: TableChainStore; spool: TableSpool } {
  return { chains: new TableChainStore(target), spool: new TableSpool(target) };
}
