/**
 * The removal budget every run shares (shared/core/budget.ts decides): one Table entity, read and
 * replaced under its ETag, so timer runs, fanned-out pages on any instance, remediation sweeps and
 * the CLI all draw from the same hourly and daily allowance. What a run takes and does not use
 * (a removal that failed or was aborted) is not given back: the safe direction.
 */
import { RestError, type TableClient } from "@azure/data-tables";
import { type BudgetLimits, type BudgetState, takeBudget } from "../core/budget.js";
import { ensureTable } from "./storage.js";

export const SWEEP_BUDGET_TABLE = "RolloverRemovalBudget";
const PK = "budget";
const RK = "removals";

interface BudgetEntity extends BudgetState {
  partitionKey: string;
  rowKey: string;
}

export class RemovalBudget {
  constructor(
    private readonly table: TableClient,
    readonly limits: BudgetLimits,
  ) {}

  /** Takes up to `want` removals at `now`; returns how many were granted. */
  async take(want: number, now: number): Promise<number> {
    if (want <= 0) return 0;
    await ensureTable(this.table);
    for (let attempt = 0; attempt < 50; attempt++) {
      let current: (BudgetEntity & { etag: string }) | undefined;
      try {
        current = await this.table.getEntity<BudgetEntity>(PK, RK);
      } catch (e) {
        if (!(e instanceof RestError && e.statusCode === 404)) throw e;
      }
      const { granted, next } = takeBudget(current, want, now, this.limits);
      if (granted === 0) return 0;
      try {
        const entity = { partitionKey: PK, rowKey: RK, ...next };
        if (current) await this.table.updateEntity(entity, "Replace", { etag: current.etag });
        else await this.table.createEntity(entity);
        return granted;
      } catch (e) {
        const status = (e as RestError).statusCode;
        if (!(e instanceof RestError && (status === 412 || status === 409))) throw e;
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20 * (attempt + 1))));
      }
    }
    throw new Error("removal budget: too much contention on its Table entity; nothing removed");
  }

  /** The stored state (for tests and the CLI's summary). */
  async read(): Promise<BudgetState | undefined> {
    await ensureTable(this.table);
    try {
      const e = await this.table.getEntity<BudgetEntity>(PK, RK);
      return { hour: e.hour, hourUsed: e.hourUsed, day: e.day, dayUsed: e.dayUsed };
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return undefined;
      throw e;
    }
  }
}
