/**
 * What the fault matrix shares: the faults, an audit trail to the sandbox's Logs Ingestion with
 * its spool in Azurite, the invariant checks, and the table printed at the end of each file.
 */
import { createHash } from "node:crypto";
import { ManagedIdentityCredential } from "@azure/identity";
import type { SandboxHandle } from "../../sandbox/index.js";
import {
  type AuditEvent,
  type AuditTrail,
  type AuditWriter,
  dedupeByRecordId,
  openAuditTrail,
  readAuditRecords,
} from "../../shared/audit/index.js";
import { blobService, LEASE_CONTAINER } from "../../shared/azure/storage.js";
import { useSandboxIdentity } from "../helpers/engine.js";

/** The faults, as sandbox fault specs (sandbox/faults.ts). */
export const FAULTS = {
  "graph 429 storm": "graph=429@0.6/1",
  "keyvault 503": "keyvault=503x2",
  "connection reset": "graph=reset@0.2;keyvault=reset@0.2",
  "logs down": "logs=down",
} as const;
export type FaultName = keyof typeof FAULTS | "SIGKILL";

export interface CaseRow {
  group: string;
  boundary: string;
  fault: string;
  runs: number;
  result: string;
  renewals: number;
  /** Boundaries at which the target had no valid key backed by the vault. */
  gaps: number;
  emitted: number;
  stored: number;
  duplicates: number;
  /** Audit records lost (emitted, not in Log Analytics after dedupe). */
  lost: number;
  removals?: string;
  ok: boolean;
  note?: string;
}

export function auditTrail(sb: SandboxHandle): AuditTrail {
  useSandboxIdentity(sb);
  const env = sb.env;
  return openAuditTrail(
    {
      logsIngestionEndpoint: env.ROLLOVER_LOGS_INGESTION_ENDPOINT,
      dcrImmutableId: env.ROLLOVER_DCR_IMMUTABLE_ID,
      dcrStreamName: env.ROLLOVER_DCR_STREAM_NAME!,
      storage: env.AzureWebJobsStorage,
      storageAccountName: undefined,
    },
    new ManagedIdentityCredential({ clientId: sb.ctx.managedIdentity.clientId }),
    { transport: { retryOptions: { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 100 } } },
  );
}

/** An audit writer that also counts what was emitted to it. */
export function countingWriter(
  trail: AuditTrail,
  writer: string,
  actor: string,
): { writer: AuditWriter; emitted: AuditEvent[] } {
  const w = trail.writer({ runId: writer, trigger: "timer", actor, writer });
  const emitted: AuditEvent[] = [];
  const emit = w.emit.bind(w);
  w.emit = (e: AuditEvent) => {
    emitted.push(e);
    emit(e);
  };
  return { writer: w, emitted };
}

/** Records of one writer in the sandbox's Log Analytics, before and after dedupe by RecordId. */
export async function storedRecords(sb: SandboxHandle, writer: string) {
  const all = (
    await readAuditRecords({ kind: "sandbox", controlUrl: sb.urls.controlUrl, stream: sb.urls.streamName })
  ).filter((r) => r.Writer === writer);
  const { records, duplicates } = dedupeByRecordId(all);
  return { raw: all.length, records, duplicates };
}

/**
 * "A valid credential at every moment": the target holds a key that is valid now and is one of
 * the binding's Key Vault versions (so Rollover can sign with it).
 */
export function hasValidBackedKey(sb: SandboxHandle, targetId: string, certificateName: string): boolean {
  const now = sb.ctx.clock.now();
  const thumbs = new Set(
    sb.ctx.vault
      .versions(certificateName)
      .filter((v) => v.enabled && v.notBefore * 1000 <= now && now < v.expires * 1000)
      .map((v) => v.thumbprintHex),
  );
  const t = sb.ctx.directory.get(sb.urls.tenantId, targetId);
  return (t?.keyCredentials ?? []).some((k) => {
    const thumb = createHash("sha1").update(k.key).digest("hex").toUpperCase();
    return thumbs.has(thumb) && Date.parse(k.startDateTime) <= now && now < Date.parse(k.endDateTime);
  });
}

/**
 * Waits until no binding lease in storage is held: a killed run's lease lapses by itself after
 * its duration (15 s in the child), on the storage service's own (real) clock, which the virtual
 * clock does not move. Polls the lease blobs' `leaseState` (a lease that has run out reads
 * `expired`) and fails with the blobs still leased once `capMs` has passed — a lease that never
 * lapses is a defect, not a slow machine.
 */
export async function leasesLapsed(sb: SandboxHandle, capMs = 90_000): Promise<void> {
  const container = blobService({ connectionString: sb.env.AzureWebJobsStorage }).getContainerClient(
    LEASE_CONTAINER,
  );
  const started = Date.now();
  for (;;) {
    const held: string[] = [];
    if (await container.exists())
      for await (const b of container.listBlobsFlat()) {
        // Read each blob's properties: they carry the lease state as of now.
        const p = await container.getBlobClient(b.name).getProperties();
        if (p.leaseState === "leased") held.push(b.name);
      }
    if (held.length === 0) return;
    if (Date.now() - started > capMs)
      throw new Error(
        `binding lease(s) still held ${Math.round(capMs / 1000)} s after the run holding them stopped: ${held.join(", ")} — a lease taken for a duration must lapse by itself`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function printTable(title: string, rows: CaseRow[]): void {
  const cols: Array<[string, (r: CaseRow) => string]> = [
    ["boundary", (r) => r.boundary],
    ["fault", (r) => r.fault],
    ["runs", (r) => String(r.runs)],
    ["result", (r) => r.result],
    ["renewals", (r) => String(r.renewals)],
    ["cred gaps", (r) => String(r.gaps)],
    ["audit emitted/stored/dup/lost", (r) => `${r.emitted}/${r.stored}/${r.duplicates}/${r.lost}`],
    ["removals", (r) => r.removals ?? "-"],
    ["ok", (r) => (r.ok ? "yes" : "NO")],
    ["note", (r) => r.note ?? ""],
  ];
  const widths = cols.map(([h, f]) => Math.max(h.length, ...rows.map((r) => f(r).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  const out = [
    `\n${title} (${rows.filter((r) => r.ok).length}/${rows.length} cases hold every invariant)`,
    line(cols.map(([h]) => h)),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(cols.map(([, f]) => f(r)))),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}
