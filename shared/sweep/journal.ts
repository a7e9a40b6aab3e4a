/**
 * The sweep's removal journal: a removal is written here before it is made and cleared after it
 * is recorded. If a process dies in between, the next sweep finds the entry, checks Graph, and
 * records the removal that took effect (`RecoveredStep`), so no removal goes unrecorded.
 */
import { RestError, type TableClient } from "@azure/data-tables";
import { tableOnce } from "../azure/storage.js";
import type { Client } from "@microsoft/microsoft-graph-client";
import type { AuditSink } from "../audit/events.js";
import type { GraphEdge } from "../azure/graph.js";
import type { TargetType } from "../core/model.js";
import { Reason } from "../core/reasons.js";

export const SWEEP_JOURNAL_TABLE = "RolloverSweepJournal";

export interface JournalEntry {
  tenantId: string;
  targetId: string;
  targetType: TargetType;
  appId: string;
  displayName: string;
  credential: "key" | "secret";
  keyId: string;
}

interface Entity extends JournalEntry {
  partitionKey: string;
  rowKey: string;
}

export class RemovalJournal {
  private readonly ensure: () => Promise<unknown>;
  constructor(private readonly table: TableClient) {
    this.ensure = tableOnce(table);
  }

  private row(e: JournalEntry): string {
    return `${e.targetId}_${e.keyId}`;
  }

  async begin(e: JournalEntry): Promise<void> {
    await this.ensure();
    await this.table.upsertEntity({ partitionKey: "removal", rowKey: this.row(e), ...e }, "Replace");
  }

  async end(e: JournalEntry): Promise<void> {
    await this.ensure();
    try {
      await this.table.deleteEntity("removal", this.row(e));
    } catch (err) {
      if (!(err instanceof RestError && err.statusCode === 404)) throw err;
    }
  }

  async pending(): Promise<JournalEntry[]> {
    await this.ensure();
    const out: JournalEntry[] = [];
    for await (const e of this.table.listEntities<Entity>({
      queryOptions: { filter: "PartitionKey eq 'removal'" },
    })) {
      out.push({
        tenantId: e.tenantId,
        targetId: e.targetId,
        targetType: e.targetType,
        appId: e.appId,
        displayName: e.displayName,
        credential: e.credential,
        keyId: e.keyId,
      });
    }
    return out;
  }
}

/** Settles what an earlier sweep left in the journal: records removals that took effect. */
export async function recoverRemovals(deps: {
  journal: RemovalJournal;
  graph: GraphEdge;
  client: Client;
  audit: AuditSink;
}): Promise<number> {
  let recovered = 0;
  for (const e of await deps.journal.pending()) {
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
