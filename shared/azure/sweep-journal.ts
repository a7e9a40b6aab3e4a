/**
 * The sweep's removal journal (Table storage): a removal is written here before it is made and
 * cleared after it is recorded. If a process dies in between, a later sweep finds the entry, checks
 * Graph, and records the removal that took effect (shared/sweep/recover.ts), so no removal goes
 * unrecorded.
 *
 * Every entry has an owner (the run, and the page in a fanned-out run) and a lease: recovery
 * touches only entries whose lease has run out (their owner is gone), and claims each under its
 * ETag first, so no page records or clears a removal another page is making, and two pages never
 * both recover the same entry.
 */
import { RestError, type TableClient } from "@azure/data-tables";
import type { TargetType } from "../core/model.js";
import { ensureTable } from "./storage.js";

export const SWEEP_JOURNAL_TABLE = "RolloverSweepJournal";

/** How long an entry belongs to its owner: far longer than one removal takes (seconds). */
export const JOURNAL_LEASE_MS = 5 * 60_000;

export interface JournalEntry {
  tenantId: string;
  targetId: string;
  targetType: TargetType;
  appId: string;
  displayName: string;
  credential: "key" | "secret";
  keyId: string;
}

interface Entity extends JournalEntry {
  partitionKey: string;
  rowKey: string;
  owner: string;
  leaseUntil: number;
}

export class RemovalJournal {
  constructor(private readonly table: TableClient) {}

  private row(e: JournalEntry): string {
    return `${e.targetId}_${e.keyId}`;
  }

  /** Records a removal `owner` is about to make, held until `now + JOURNAL_LEASE_MS`. */
  async begin(e: JournalEntry, owner: string, now: number): Promise<void> {
    await ensureTable(this.table);
    await this.table.upsertEntity(
      { partitionKey: "removal", rowKey: this.row(e), ...e, owner, leaseUntil: now + JOURNAL_LEASE_MS },
      "Replace",
    );
  }

  async end(e: JournalEntry): Promise<void> {
    await ensureTable(this.table);
    try {
      await this.table.deleteEntity("removal", this.row(e));
    } catch (err) {
      if (!(err instanceof RestError && err.statusCode === 404)) throw err;
    }
  }

  /**
   * Entries whose owner is gone (lease run out at `now`), each claimed for `owner` under its ETag;
   * an entry another recoverer claimed first is left to it.
   */
  async claimStale(owner: string, now: number): Promise<JournalEntry[]> {
    await ensureTable(this.table);
    const out: JournalEntry[] = [];
    for await (const e of this.table.listEntities<Entity>({
      queryOptions: { filter: "PartitionKey eq 'removal'" },
    })) {
      if (typeof e.leaseUntil === "number" && e.leaseUntil > now) continue;
      try {
        await this.table.updateEntity(
          { partitionKey: e.partitionKey, rowKey: e.rowKey, owner, leaseUntil: now + JOURNAL_LEASE_MS },
          "Merge",
          { etag: e.etag },
        );
      } catch (err) {
        const status = (err as RestError).statusCode;
        if (err instanceof RestError && (status === 412 || status === 404)) continue;
        throw err;
      }
      out.push({
        tenantId: e.tenantId,
        targetId: e.targetId,
        targetType: e.targetType,
        appId: e.appId,
        displayName: e.displayName,
        credential: e.credential,
        keyId: e.keyId,
      });
    }
    return out;
  }
}
