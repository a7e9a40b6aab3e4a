/** sweepPage (Storage queue trigger): one page of the tenant's objects in a fanned-out sweep. */
import type { InvocationContext } from "@azure/functions";
import { Reason } from "../shared/core/reasons.js";
import { oneLine } from "../shared/text.js";
import { fanoutStorage, type PageResult, runSweepPage, sweepPageMessage } from "../shared/sweep/fanout.js";
import { type Runtime, withRun } from "./runtime.js";
import { contextLogger } from "../shared/log.js";

export function sweepPageHandler(rt: Runtime) {
  return async (message: unknown, context: InvocationContext): Promise<PageResult | undefined> => {
    const parsed = sweepPageMessage.safeParse(message);
    if (!parsed.success) {
      // A retry cannot fix a malformed message: acknowledge it and leave a record.
      return withRun(rt, { trigger: "timer", runId: context.invocationId }, async (run) => {
        const issue = parsed.error.issues[0];
        const why = oneLine(issue ? `${issue.path.join(".") || "message"}: ${issue.message}` : "invalid");
        run.audit.emit({
          action: "error",
          outcome: "skipped",
          reason: Reason.MalformedMessage,
          message: `sweep queue message dropped: ${why}`,
        });
        contextLogger(context).warn(`sweepPage: malformed message dropped: ${why}`);
        return undefined;
      });
    }
    const m = parsed.data;
    return withRun(rt, { trigger: "timer", runId: m.runId }, async (run) => {
      const out = await runSweepPage(fanoutStorage(run.rollover.storage), run.sweepDeps(), m);
      if (out.status === "done") {
        contextLogger(context).info(
          `sweep ${m.runId} ${m.collection} page ${m.page}: ${out.summary.targets} objects, ${out.summary.removed} removed, ${out.summary.deferred} deferred (${out.run.pagesDone}/${out.run.pagesEnqueued} pages)`,
        );
      } else {
        contextLogger(context).info(
          `sweep ${m.runId} ${m.collection} page ${m.page}: skipped (${out.reason})`,
        );
      }
      return out;
    });
  };
}
