/**
 * Reads audit records back from a Log Analytics workspace with `@azure/monitor-query-logs`
 * (for `rollover audit verify` in Azure). Datetime columns come back as `Date`; the records are
 * normalised by the caller before their hashes are checked.
 */
import type { TokenCredential } from "@azure/identity";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";

export interface WorkspaceQueryOptions {
  workspaceId: string;
  credential: TokenCredential;
  /** Default `RolloverAudit_CL`. */
  table?: string;
  since?: Date;
  until?: Date;
  /** Log Analytics query endpoint (national clouds). */
  endpoint?: string;
}

/** KQL that reads the table in ingestion order; the checks happen in TypeScript. */
export function auditReadQuery(table: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`);
  return `${table}\n| extend _Ingested = ingestion_time()\n| order by _Ingested asc\n| project-away _Ingested`;
}

export async function queryAuditRecords(
  options: WorkspaceQueryOptions,
): Promise<Array<Record<string, unknown>>> {
  const client = new LogsQueryClient(
    options.credential,
    options.endpoint ? { endpoint: options.endpoint } : {},
  );
  const startTime = options.since ?? new Date("2000-01-01T00:00:00Z");
  const endTime = options.until ?? new Date(Date.now() + 60_000);
  const result = await client.queryWorkspace(
    options.workspaceId,
    auditReadQuery(options.table ?? "RolloverAudit_CL"),
    { startTime, endTime },
    { serverTimeoutInSeconds: 600 },
  );
  if (result.status !== LogsQueryResultStatus.Success) {
    throw new Error(
      `the workspace answered only in part: ${result.partialError?.message ?? "unknown error"}`,
    );
  }
  const table = result.tables[0];
  if (!table) return [];
  const names = table.columnDescriptors.map((c) => c.name ?? "");
  return table.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i]])));
}
