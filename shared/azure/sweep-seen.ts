/**
 * When Rollover first saw a credential on its target: the sweep's grace window runs from here,
 * not from the credential's startDateTime (which the credential's owner chose).
 *
 * One Table entity per removal candidate (partition: target id, row: key id), written the first
 * time the credential is a candidate and never moved later (create, not upsert: a second writer
 * gets 409 and reads the first). Only candidates are looked up, page by page, so the sweep holds
 * no more than one page's worth; an entry is deleted when its credential is removed.
 */
import { odata, RestError, type TableClient } from "@azure/data-tables";
import { firstSeenKey } from "../core/sweep.js";
import { ensureTable } from "./storage.js";

export const SWEEP_SEEN_TABLE = "RolloverSweepSeen";
const PARALLEL = 16;
/** Two comparisons per credential; Table storage allows 15 in one filter. */
const PER_QUERY = 7;

interface SeenEntity {
  partitionKey: string;
  rowKey: string;
  firstSeen: number;
}

export class FirstSeenStore {
  constructor(private readonly table: TableClient) {}

  /**
   * First sight of each credential (`firstSeenKey` → ms); a credential not seen before is
   * recorded as seen at `now`, unless `record` is false (a dry run writes nothing).
   */
  async observe(
    credentials: ReadonlyArray<{ targetId: string; keyId: string }>,
    now: number,
    record = true,
  ): Promise<Map<string, number>> {
    await ensureTable(this.table);
    const out = new Map<string, number>();
    const todo = [...new Map(credentials.map((c) => [firstSeenKey(c.targetId, c.keyId), c])).values()];
    // Known ones in batches: one query for up to PER_QUERY credentials (Table storage takes at
    // most 15 comparisons in a filter), a few queries at a time — a page's candidates, never more.
    const batches: Array<typeof todo> = [];
    for (let i = 0; i < todo.length; i += PER_QUERY) batches.push(todo.slice(i, i + PER_QUERY));
    for (let i = 0; i < batches.length; i += PARALLEL) {
      await Promise.all(
        batches.slice(i, i + PARALLEL).map(async (batch) => {
          const filter = batch
            .map(
              (c) =>
                odata`(PartitionKey eq ${c.targetId.toLowerCase()} and RowKey eq ${c.keyId.toLowerCase()})`,
            )
            .join(" or ");
          for await (const e of this.table.listEntities<SeenEntity>({ queryOptions: { filter } })) {
            if (typeof e.firstSeen === "number") out.set(firstSeenKey(e.partitionKey, e.rowKey), e.firstSeen);
          }
        }),
      );
    }
    if (!record) return out;
    // New ones are recorded; a concurrent first writer wins (409), and its time is read back.
    const unseen = todo.filter((c) => !out.has(firstSeenKey(c.targetId, c.keyId)));
    for (let i = 0; i < unseen.length; i += PARALLEL) {
      await Promise.all(
        unseen.slice(i, i + PARALLEL).map(async (c) => {
          const seen = await this.record(c.targetId.toLowerCase(), c.keyId.toLowerCase(), now);
          if (seen !== undefined) out.set(firstSeenKey(c.targetId, c.keyId), seen);
        }),
      );
    }
    return out;
  }

  private async record(pk: string, rk: string, now: number): Promise<number | undefined> {
    try {
      await this.table.createEntity<SeenEntity>({ partitionKey: pk, rowKey: rk, firstSeen: now });
      return now;
    } catch (e) {
      if (!(e instanceof RestError && e.statusCode === 409)) throw e;
      return this.read(pk, rk);
    }
  }

  /** Forgets a credential that was removed. */
  async forget(targetId: string, keyId: string): Promise<void> {
    await ensureTable(this.table);
    try {
      await this.table.deleteEntity(targetId.toLowerCase(), keyId.toLowerCase());
    } catch (e) {
      if (!(e instanceof RestError && e.statusCode === 404)) throw e;
    }
  }

  private async read(pk: string, rk: string): Promise<number | undefined> {
    try {
      const e = await this.table.getEntity<SeenEntity>(pk, rk);
      return typeof e.firstSeen === "number" ? e.firstSeen : undefined;
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return undefined;
      throw e;
    }
  }
}
