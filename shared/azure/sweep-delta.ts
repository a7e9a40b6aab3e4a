/**
 * Where each collection's delta link lives between sweeps (Table storage, one entity per
 * collection), and when the collection was last read in full. shared/sweep/delta.ts decides from
 * these where a sweep starts.
 */
import { RestError, type TableClient } from "@azure/data-tables";
import { ensureTable } from "./storage.js";

export const SWEEP_DELTA_TABLE = "RolloverSweepDelta";

export type SweepCollection = "applications" | "servicePrincipals";

export interface DeltaState {
  deltaLink?: string;
  lastFullAt?: number;
}

interface DeltaEntity {
  partitionKey: string;
  rowKey: string;
  deltaLink?: string;
  lastFullAt?: number;
}

export class DeltaStore {
  constructor(private readonly table: TableClient) {}

  async get(collection: SweepCollection): Promise<DeltaState> {
    await ensureTable(this.table);
    try {
      const e = await this.table.getEntity<DeltaEntity>("sweep", collection);
      return {
        ...(e.deltaLink ? { deltaLink: e.deltaLink } : {}),
        ...(typeof e.lastFullAt === "number" ? { lastFullAt: e.lastFullAt } : {}),
      };
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return {};
      throw e;
    }
  }

  private async merge(
    collection: SweepCollection,
    fields: Omit<DeltaEntity, "partitionKey" | "rowKey">,
  ): Promise<void> {
    await ensureTable(this.table);
    await this.table.upsertEntity({ partitionKey: "sweep", rowKey: collection, ...fields }, "Merge");
  }

  setLink(collection: SweepCollection, deltaLink: string): Promise<void> {
    return this.merge(collection, { deltaLink });
  }

  markFull(collection: SweepCollection, at: number): Promise<void> {
    return this.merge(collection, { lastFullAt: at });
  }

  /** Forgets a link Graph no longer honours; the next sweep enumerates afresh. */
  clearLink(collection: SweepCollection): Promise<void> {
    return this.merge(collection, { deltaLink: "" });
  }
}
