/** keyVaultEvents (Event Grid trigger): Key Vault certificate events → renew, attach, verify. */
import type { InvocationContext } from "@azure/functions";
import { handleKeyVaultEvent } from "../shared/events/handle.js";
import { type Runtime, withRun } from "./runtime.js";
import { contextLogger } from "../shared/log.js";
import { Reason } from "../shared/core/reasons.js";

export interface KeyVaultEventResult {
  status: "handled" | "rejected" | "ignored";
  reason: string;
}

/**
 * Whether keyVaultEvents refused the event outright: its `data.Id` names another vault than its
 * topic (a forged event); `rollover serve` answers it with 400. An event for a vault not on the
 * allow list is not a refusal: it is acknowledged (2xx) and audited.
 */
export function isEventRefusal(v: unknown): v is KeyVaultEventResult & { status: "rejected" } {
  const r = v as { status?: unknown; reason?: unknown } | null;
  return (
    typeof r === "object" && r !== null && r.status === "rejected" && r.reason === Reason.EventVaultMismatch
  );
}

export function keyVaultEventsHandler(rt: Runtime) {
  return async (event: unknown, context: InvocationContext): Promise<KeyVaultEventResult> => {
    const out = await withRun(rt, { trigger: "eventGrid", runId: context.invocationId }, (run) =>
      handleKeyVaultEvent(event, {
        vaults: run.rollover.vaults,
        allowedVaults: run.rollover.config.allowedVaults ?? [],
        audit: run.audit,
        reconcile: (ref) => run.engine.reconcile(ref),
      }),
    );
    if (out.status === "handled") {
      contextLogger(context).info(
        `${out.event.type} ${out.outcome.ref.certificateName}: ${out.outcome.result} (${out.outcome.reason})`,
      );
      return { status: "handled", reason: out.outcome.reason };
    }
    contextLogger(context).info(`event ${out.status}: ${out.reason}`);
    // The host ignores a trigger's return value; `rollover serve` answers a refusal with 400.
    return { status: out.status, reason: out.reason };
  };
}
