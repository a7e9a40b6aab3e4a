/**
 * When Rollover first saw a credential on its target: the sweep's grace window runs from here,
 * not from the credential's startDateTime (which the credential's owner chose).
 *
 * One Table entity per removal candidate (partition: target id, row: key id), written the first
 * time the credential is a candidate and never moved later (create, not upsert: a second writer
 * gets 409 and reads the first). Only candidates are looked up, page by page, so the sweep holds
 * no more than one page's worth; an entry is deleted when its credential is removed.
 */
import { RestError, type TableClient } from "@azure/data-tables";
import { tableOnce } from "../azure/storage.js";
import { firstSeenKey } from "../core/sweep.js";

export const SWEEP_SEEN_TABLE = "RolloverSweepSeen";
const PARALLEL = 16;

interface SeenEntity {
  partitionKey: string;
  rowKey: string;
  firstSeen: number;
}

export class FirstSeenStore {
  private readonly ensure: () => Promise<unknown>;
  constructor(private readonly table: TableClient) {
    this.ensure = tableOnce(table);
  }

  /**
   * First sight of each credential (`firstSeenKey` → ms); a credential not seen before is
   * recorded as seen at `now`, unless `record` is false (a dry run writes nothing).
   */
  async observe(
    credentials: ReadonlyArray<{ targetId: string; keyId: string }>,
    now: number,
    record = true,
  ): Promise<Map<string, number>> {
    await this.ensure();
    const out = new Map<string, number>();
    const todo = [...new Map(credentials.map((c) => [firstSeenKey(c.targetId, c.keyId), c])).entries()];
    // Point reads (and first writes), a few at a time: a page's candidates, never more.
    for (let i = 0; i < todo.length; i += PARALLEL) {
      await Promise.all(
        todo.slice(i, i + PARALLEL).map(async ([key, c]) => {
          const seen = await this.one(c.targetId.toLowerCase(), c.keyId.toLowerCase(), now, record);
          if (seen !== undefined) out.set(key, seen);
        }),
      );
    }
    return out;
  }

  private async one(pk: string, rk: string, now: number, record: boolean): Promise<number | undefined> {
    const existing = await this.read(pk, rk);
    if (existing !== undefined || !record) return existing;
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
    await this.ensure();
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
