/**
 * Incremental sweeps through Graph's `/delta`. A delta link (stored per collection in Table
 * storage) lets a sweep read only the objects changed since the last one. Expiry is a matter of
 * time, not of change, so a full sweep still runs at least every ROLLOVER_FULL_SWEEP_HOURS: it
 * catches credentials that expired on objects nobody touched.
 *
 *   no delta link yet               → full sweep through /delta (it ends with the first link)
 *   last full sweep too long ago    → full sweep through the plain list ($top=999)
 *   otherwise                       → incremental: follow the delta link
 */
import { RestError, type TableClient } from "@azure/data-tables";
import { tableOnce } from "../azure/storage.js";
import { firstPageUrl } from "../azure/graph.js";

export const SWEEP_DELTA_TABLE = "RolloverSweepDelta";

export type SweepCollection = "applications" | "servicePrincipals";
export type SweepKind = "fullDelta" | "full" | "incremental";

export interface DeltaState {
  deltaLink?: string;
  lastFullAt?: number;
}

/** Where a sweep of one collection starts. Pure. */
export function sweepStart(
  collection: SweepCollection,
  state: DeltaState,
  now: number,
  fullEveryMs: number,
  pageSize = 999,
): { kind: SweepKind; url: string } {
  if (!state.deltaLink) return { kind: "fullDelta", url: firstPageUrl(collection, pageSize, "delta") };
  if (state.lastFullAt === undefined || now - state.lastFullAt >= fullEveryMs) {
    return { kind: "full", url: firstPageUrl(collection, pageSize, "list") };
  }
  return { kind: "incremental", url: state.deltaLink };
}

interface DeltaEntity {
  partitionKey: string;
  rowKey: string;
  deltaLink?: string;
  lastFullAt?: number;
}

export class DeltaStore {
  private readonly ensure: () => Promise<unknown>;
  constructor(private readonly table: TableClient) {
    this.ensure = tableOnce(table);
  }

  async get(collection: SweepCollection): Promise<DeltaState> {
    await this.ensure();
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
    await this.ensure();
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
