/**
 * `rollover audit verify [--since …]`: reads the audit records back and checks their chains.
 *
 *   sandbox    GET {controlUrl}/logs?stream=… (the local sandbox's store)
 *   workspace  the Log Analytics table, with @azure/monitor-query-logs
 *   records    records already in hand
 *
 * With the chain heads (Rollover's storage) a cut-off tail, records appended past a head and a
 * second chain under a name Rollover never wrote all show; with the signing key's public key, a
 * head not signed by Rollover's key shows too. Records still waiting in the spool are read with
 * the rest. The report is `verifyChains`'s; `exitCode` is 0 when the trail is whole, 1 when not.
 */
import type { TokenCredential } from "@azure/identity";
import { queryAuditRecords } from "../azure/audit-query.js";
import { type ChainHeadInfo, type ChainReport, renderReport, verifyChains } from "./chain.js";
import { type AuditSpool, type ChainStore, type CheckpointVerifier, checkpointMessage } from "./ports.js";
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
  /** Checks each head's signed checkpoint (ROLLOVER_AUDIT_SIGNING_KEY_ID): unsigned heads fail. */
  verifier?: CheckpointVerifier;
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
  const keep = (r: RecordLike) => !only || only.has(String(r.Writer));
  const records = (await readAuditRecords(source, options.since)).filter(keep);
  let heads: ChainHeadInfo[] | undefined;
  let pending: Map<string, Set<number>> | undefined;
  if (options.chains) {
    heads = [];
    for (const h of await options.chains.list()) {
      if (only && !only.has(h.writer)) continue;
      const { signed, ...rest } = h;
      let valid = false;
      if (signed && options.verifier) {
        valid = await options.verifier
          .verify(checkpointMessage(h.writer, signed.sequence, signed.hash), signed)
          .catch(() => false);
      }
      heads.push({
        ...rest,
        ...(signed ? { signed: { sequence: signed.sequence, hash: signed.hash, valid } } : {}),
      });
    }
  }
  if (options.spool) {
    // Records waiting in the spool are Rollover's own (its storage): checked with the rest.
    pending = new Map();
    const spooled: RecordLike[] = [];
    for (const s of await options.spool.all()) {
      let set = pending.get(s.record.Writer);
      if (!set) {
        set = new Set();
        pending.set(s.record.Writer, set);
      }
      set.add(s.record.Sequence);
      spooled.push(s.record as unknown as RecordLike);
    }
    const from = options.since?.getTime();
    for (const r of spooled.filter(keep)) {
      const t = normalizeDate(r.TimeGenerated as string | Date | undefined);
      if (from === undefined || (t !== null && Date.parse(t) >= from)) records.push(r);
    }
  }
  const report = verifyChains(records, {
    expectGenesis: options.since === undefined,
    ...(heads ? { heads, headsComplete: true } : {}),
    ...(pending ? { pending } : {}),
    ...(options.verifier ? { requireSignatures: true } : {}),
    ...(options.since ? { since: options.since } : {}),
  });
  return { report, text: renderReport(report), exitCode: report.ok ? 0 : 1 };
}
