/**
 * The run record of a fanned-out sweep (Table storage, one partition per run): the run's removal
 * budget and counters, and a marker per page (enqueued, done). shared/sweep/fanout.ts decides
 * what a page does; this file only reads and writes the records.
 *
 * The counters change under the record's ETag (read-modify-write, retried on 412), so the cap
 * holds however many instances work on the run at once; a page marker is created once (409 when
 * it exists), so a page is enqueued once however often the page before it is delivered.
 */
import { RestError, type TableClient } from "@azure/data-tables";
import { ensureTable } from "./storage.js";

export const SWEEP_RUNS_TABLE = "RolloverSweepRuns";
const RUN_ROW = "run";

/** The run record, as the sweep sees it. */
export interface SweepRun {
  runId: string;
  maxRemovals: number;
  /** Removals (or reported would-be removals) the pages took from the budget. */
  reserved: number;
  pagesEnqueued: number;
  pagesDone: number;
  targets: number;
  removed: number;
  failed: number;
  deferred: number;
  reportedOnly: number;
  findings: Record<string, number>;
  held: Record<string, number>;
  startedAt: number;
  dryRun: boolean;
}

/** The counters a page adds to or changes on the run record. */
export type SweepRunChange = Partial<Omit<SweepRun, "runId" | "maxRemovals" | "startedAt" | "dryRun">>;

/** One page of a run: its collection and number (the marker's row key). */
export interface SweepPageRef {
  runId: string;
  collection: string;
  page: number;
}

/** The record as Table storage holds it: the counters as they are, the tallies as JSON. */
type RunEntity = Omit<SweepRun, "runId" | "findings" | "held"> & {
  partitionKey: string;
  rowKey: string;
  findings: string;
  held: string;
};

function toRun(e: RunEntity): SweepRun {
  return {
    runId: e.partitionKey,
    maxRemovals: e.maxRemovals,
    reserved: e.reserved,
    pagesEnqueued: e.pagesEnqueued,
    pagesDone: e.pagesDone,
    targets: e.targets,
    removed: e.removed,
    failed: e.failed,
    deferred: e.deferred,
    reportedOnly: e.reportedOnly,
    findings: JSON.parse(e.findings || "{}") as Record<string, number>,
    held: JSON.parse(e.held || "{}") as Record<string, number>,
    startedAt: e.startedAt,
    dryRun: e.dryRun,
  };
}

const pageRow = (p: SweepPageRef) => `${p.collection}-${p.page}`;

export class SweepRunStore {
  constructor(private readonly table: TableClient) {}

  /** Creates the table once per process (ensureTable). */
  ready(): Promise<void> {
    return ensureTable(this.table);
  }

  /** Creates a run record with every counter at zero but `pagesEnqueued`. */
  async create(
    run: Pick<SweepRun, "runId" | "maxRemovals" | "pagesEnqueued" | "startedAt" | "dryRun">,
  ): Promise<void> {
    const entity: RunEntity = {
      partitionKey: run.runId,
      rowKey: RUN_ROW,
      maxRemovals: run.maxRemovals,
      reserved: 0,
      pagesEnqueued: run.pagesEnqueued,
      pagesDone: 0,
      targets: 0,
      removed: 0,
      failed: 0,
      deferred: 0,
      reportedOnly: 0,
      findings: "{}",
      held: "{}",
      startedAt: run.startedAt,
      dryRun: run.dryRun,
    };
    await this.table.createEntity(entity);
  }

  /** The run record; undefined when there is none. */
  async read(runId: string): Promise<SweepRun | undefined> {
    try {
      return toRun(await this.table.getEntity<RunEntity>(runId, RUN_ROW));
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return undefined;
      throw e;
    }
  }

  /** Read-modify-write of the run record under its ETag; `change` may run more than once. */
  async update(runId: string, change: (run: SweepRun) => SweepRunChange): Promise<SweepRun> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const e = await this.table.getEntity<RunEntity>(runId, RUN_ROW);
      const run = toRun(e);
      const next = { ...run, ...change(run) };
      try {
        await this.table.updateEntity(
          {
            partitionKey: runId,
            rowKey: RUN_ROW,
            reserved: next.reserved,
            pagesEnqueued: next.pagesEnqueued,
            pagesDone: next.pagesDone,
            targets: next.targets,
            removed: next.removed,
            failed: next.failed,
            deferred: next.deferred,
            reportedOnly: next.reportedOnly,
            findings: JSON.stringify(next.findings),
            held: JSON.stringify(next.held),
          },
          "Merge",
          { etag: e.etag },
        );
        return next;
      } catch (err) {
        if (!(err instanceof RestError && err.statusCode === 412)) throw err;
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20 * (attempt + 1))));
      }
    }
    throw new Error(`sweep run ${runId}: too much contention on the run record`);
  }

  /** Creates a page's marker; false when it existed (the page was enqueued before). */
  async markEnqueued(p: SweepPageRef): Promise<boolean> {
    try {
      await this.table.createEntity({ partitionKey: p.runId, rowKey: pageRow(p), state: "enqueued" });
      return true;
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 409) return false;
      throw e;
    }
  }

  /** Whether a page is done (its marker says so). */
  async isDone(p: SweepPageRef): Promise<boolean> {
    try {
      const e = await this.table.getEntity<{ state?: string }>(p.runId, pageRow(p));
      return e.state === "done";
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return false;
      throw e;
    }
  }

  /** Marks a page done. */
  async markDone(p: SweepPageRef): Promise<void> {
    await this.table.upsertEntity({ partitionKey: p.runId, rowKey: pageRow(p), state: "done" }, "Merge");
  }
}
