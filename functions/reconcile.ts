/**
 * reconcile (timer, ROLLOVER_RECONCILE_SCHEDULE): every binding — the safety net for missed or
 * failed events — then the sweep, fanned out over the queue one page a message.
 */
import type { InvocationContext, Timer } from "@azure/functions";
import { listBindingRefs, type ReconcileSummary, reconcileAll } from "../shared/rotation/reconcile.js";
import { fanoutStorage, startSweepRun } from "../shared/sweep/fanout.js";
import { type Runtime, withRun } from "./runtime.js";
import { contextLogger } from "../shared/log.js";

export interface ReconcileResult {
  counts: ReconcileSummary["counts"];
  sweepRunId: string;
}

export function reconcileHandler(rt: Runtime) {
  return async (_timer: Timer | undefined, context: InvocationContext): Promise<ReconcileResult> =>
    withRun(rt, { trigger: "timer", runId: context.invocationId }, async (run) => {
      const config = run.rollover.config;
      const refs = await listBindingRefs(run.rollover.vaults.values());
      const summary = await reconcileAll(run.engine, refs, { concurrency: config.concurrency });
      const c = summary.counts;
      contextLogger(context).info(
        `reconcile: ${refs.length} binding(s): ${c.converged} converged, ${c.waiting} waiting, ${c.refused} refused, ${c.locked} locked, ${c.failed} failed`,
      );
      const sweepRunId = await startSweepRun(fanoutStorage(run.rollover.storage), {
        runId: context.invocationId,
        maxRemovals: config.maxRemovalsPerRun,
        now: run.now(),
        dryRun: false,
        fullEveryMs: config.fullSweepHours * 3_600_000,
      });
      contextLogger(context).info(`sweep ${sweepRunId}: first pages enqueued`);
      return { counts: c, sweepRunId };
    });
}
