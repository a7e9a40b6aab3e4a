/**
 * Recovery from the removal journal (shared/azure/sweep-journal.ts): a removal whose sweep died
 * between making it and recording it is checked on Graph and, if it took effect, recorded
 * (`RecoveredStep`), so no removal goes unrecorded.
 */
import type { Client } from "@microsoft/microsoft-graph-client";
import type { AuditSink } from "../audit/events.js";
import type { GraphEdge } from "../azure/graph.js";
import type { RemovalJournal } from "../azure/sweep-journal.js";
import { Reason } from "../core/reasons.js";

/** Settles what a sweep that is gone left in the journal: records removals that took effect. */
export async function recoverRemovals(deps: {
  journal: RemovalJournal;
  graph: GraphEdge;
  client: Client;
  audit: AuditSink;
  owner: string;
  now: () => number;
}): Promise<number> {
  let recovered = 0;
  for (const e of await deps.journal.claimStale(deps.owner, deps.now())) {
    const target = await deps.graph.getTarget(deps.client, e.tenantId, e.targetType, e.targetId);
    const creds = e.credential === "key" ? target?.keyCredentials : target?.passwordCredentials;
    const gone = !creds?.some((c) => c.keyId === e.keyId);
    if (gone) {
      recovered += 1;
      deps.audit.emit({
        action: "sweepRemoval",
        outcome: "succeeded",
        reason: Reason.RecoveredStep,
        message: `removed ${e.credential} ${e.keyId} in an earlier sweep that stopped before recording it`,
        tenantId: e.tenantId,
        targetType: e.targetType,
        targetObjectId: e.targetId,
        targetAppId: e.appId,
        targetDisplayName: e.displayName,
        keyId: e.keyId,
      });
      await deps.audit.flush?.();
    }
    await deps.journal.end(e);
  }
  return recovered;
}
