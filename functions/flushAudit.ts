/** flushAudit (timer, ROLLOVER_FLUSH_AUDIT_SCHEDULE): sends audit records that waited in storage. */
import type { InvocationContext, Timer } from "@azure/functions";
import type { SpoolFlushResult } from "../shared/audit/writer.js";
import { rolloverFor, type Runtime } from "./runtime.js";
import { contextLogger } from "../shared/log.js";

export function flushAuditHandler(rt: Runtime) {
  return async (
    _timer: Timer | undefined,
    context: InvocationContext,
  ): Promise<SpoolFlushResult | undefined> => {
    const audit = rolloverFor(rt).audit;
    if (!audit) {
      contextLogger(context).info("flushAudit: no audit trail configured");
      return undefined;
    }
    const r = await audit.flushSpool({ log: (l) => contextLogger(context).info(l) });
    contextLogger(context).info(`flushAudit: ${r.sent} sent, ${r.remaining} waiting, ${r.rejected} rejected`);
    return r;
  };
}
