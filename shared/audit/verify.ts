/**
 * `rollover audit verify [--since …]`: reads the audit records back and checks their chains.
 *
 *   sandbox    GET {controlUrl}/logs?stream=… (the local sandbox's store)
 *   workspace  the Log Analytics table, with @azure/monitor-query-logs
 *   records    records already in hand
 *
 * The report is `verifyChains`'s; `exitCode` is 0 when the trail is whole and 1 when it is not.
 */
import type { TokenCredential } from "@azure/identity";
import { queryAuditRecords } from "../azure/audit-query.js";
import { type ChainHeadInfo, type ChainReport, renderReport, verifyChains } from "./chain.js";
import type { AuditSpool, ChainStore } from "./ports.js";
import { normalizeDate, type RecordLike } from "./record.js";

export type AuditSource =
  | { kind: "sandbox"; controlUrl: string; stream?: string }
  | {
      kind: "workspace";
      workspaceId: string;
      credential: TokenCredential;
      table?: string;
      endpoint?: string;
    }
  | { kind: "records"; records: RecordLike[] };

export interface VerifyAuditOptions {
  /** Only records from this time on (the chains are then checked from their first record in the window). */
  since?: Date;
  /** Chain heads from storage: a chain cut short at its end shows too. */
  chains?: ChainStore;
  /** Records waiting in the spool are not missing. */
  spool?: AuditSpool;
  /** Check only these chains. */
  writers?: string[];
}

export interface AuditVerification {
  report: ChainReport;
  text: string;
  exitCode: 0 | 1;
}

/** Reads the records of a source, in the order the store holds them. */
export async function readAuditRecords(source: AuditSource, since?: Date): Promise<RecordLike[]> {
  let rows: RecordLike[];
  switch (source.kind) {
    case "records":
      rows = source.records;
      break;
    case "sandbox": {
      const url = new URL(`${source.controlUrl.replace(/\/+$/, "")}/logs`);
      if (source.stream) url.searchParams.set("stream", source.stream);
      const res = await fetch(url);
      if (!res.ok) throw new Error(`reading ${url.pathname} failed: HTTP ${res.status}`);
      const body = (await res.json()) as { value: Array<{ record: RecordLike }> };
      rows = body.value.map((v) => v.record);
      break;
    }
    case "workspace":
      rows = await queryAuditRecords({
        workspaceId: source.workspaceId,
        credential: source.credential,
        ...(source.table ? { table: source.table } : {}),
        ...(source.endpoint ? { endpoint: source.endpoint } : {}),
        ...(since ? { since } : {}),
      });
      break;
  }
  if (!since) return rows;
  const from = since.getTime();
  return rows.filter((r) => {
    const t = normalizeDate(r.TimeGenerated as string | Date | undefined);
    return t !== null && Date.parse(t) >= from;
  });
}

export async function verifyAudit(
  source: AuditSource,
  options: VerifyAuditOptions = {},
): Promise<AuditVerification> {
  const only = options.writers ? new Set(options.writers) : undefined;
  const records = (await readAuditRecords(source, options.since)).filter(
    (r) => !only || only.has(String(r.Writer)),
  );
  let heads: ChainHeadInfo[] | undefined;
  let pending: Map<string, Set<number>> | undefined;
  if (options.chains) heads = (await options.chains.list()).filter((h) => !only || only.has(h.writer));
  if (options.spool) {
    pending = new Map();
    for (const s of await options.spool.all()) {
      let set = pending.get(s.record.Writer);
      if (!set) {
        set = new Set();
        pending.set(s.record.Writer, set);
      }
      set.add(s.record.Sequence);
    }
  }
  const report = verifyChains(records, {
    expectGenesis: options.since === undefined,
    ...(heads ? { heads } : {}),
    ...(pending ? { pending } : {}),
  });
  return { report, text: renderReport(report), exitCode: report.ok ? 0 : 1 };
}
