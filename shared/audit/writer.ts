/**
 * The audit writer: the `AuditSink` the engine, the sweep and the handlers emit to.
 *
 *   emit()   synchronous: redacts the event, stamps its time and record id, buffers it
 *   flush()  seals the buffered events into the writer's hash chain (the chain's head is saved
 *            in storage *before* anything is sent, so a restart never reuses a position), sends
 *            them, and stores what the service did not take in the spool. It returns only when
 *            every record is accepted or safely stored; if even the spool fails it throws and
 *            keeps the records for the next flush.
 *   close()  flush, and the end of the writer's life (a function invocation ends after it).
 *
 * `flushSpool()` (the flushAudit timer) sends spooled records later, writer by writer in
 * sequence order, and deletes each from storage only after the service accepted it. A crash
 * between the two sends a record twice; its `RecordId` lets queries keep one (see
 * infra/queries/audit-dedupe.kql).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { AuditEvent, AuditSink, Trigger } from "./events.js";
import {
  type AuditSpool,
  type AuditTransport,
  type ChainHead,
  type ChainStore,
  type CheckpointSigner,
  checkpointMessage,
  type FailedBatch,
  type SignedCheckpoint,
} from "./ports.js";
import { type AuditRecord, toRecord } from "./record.js";
import { RedactionCounter, redact, redactionCounter } from "./redact.js";

export interface AuditWriterOptions {
  runId: string;
  trigger: Trigger;
  /** Rollover's principal (object id of its identity). */
  actor: string;
  /** The chain's name; default `defaultWriterId()`. Writers running at once need different names. */
  writer?: string;
  /** Used for events that do not say. */
  dryRun?: boolean;
  transport: AuditTransport;
  chains: ChainStore;
  /** Where records wait when sending fails. Without one, a failed send makes flush() throw. */
  spool?: AuditSpool;
  /** Signs each batch's checkpoint in Key Vault (ROLLOVER_AUDIT_SIGNING_KEY_ID). */
  signer?: CheckpointSigner;
  redaction?: RedactionCounter;
  /** Log lines (free of secrets). */
  log?: (line: string) => void;
  clock?: () => Date;
  /** Longest Message kept (default 4096, at most 32,768: Log Analytics cuts longer values anyway). */
  maxMessageLength?: number;
}

export interface FlushResult {
  sent: number;
  spooled: number;
  /** Refused for good by the service (400/413): kept in the spool, marked rejected. */
  rejected: number;
}

export interface SpoolFlushResult {
  sent: number;
  /** Still waiting (the service failed again). */
  remaining: number;
  rejected: number;
  writers: number;
}

export class AuditDeliveryError extends Error {
  override name = "AuditDeliveryError";
}

/** A stable name for this host's chain: the Functions instance (or the host name) and the process. */
export function defaultWriterId(env: NodeJS.ProcessEnv = process.env): string {
  const instance = env.WEBSITE_INSTANCE_ID?.slice(0, 16) || hostname().slice(0, 32) || "local";
  const base = env.ROLLOVER_AUDIT_WRITER?.trim() || `${env.WEBSITE_SITE_NAME ?? "rollover"}-${instance}`;
  return base.replace(/[^A-Za-z0-9._-]/g, "-");
}

interface Pending {
  event: AuditEvent;
  time: Date;
  recordId: string;
}

/**
 * The in-process side of one chain: seals records one batch at a time, so writers of the same
 * process share a chain without racing, and rebuilds a batch on top of the stored head when
 * another process moved it.
 */
class Chain {
  private head: ChainHead | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  constructor(
    readonly name: string,
    private readonly store: ChainStore,
  ) {}

  seal(
    items: Pending[],
    build: (p: Pending, sequence: number, prevHash: string) => AuditRecord,
    signer?: CheckpointSigner,
    log?: (line: string) => void,
  ) {
    const run = this.queue.then(async () => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const head = this.head ?? (await this.store.load(this.name));
        const records: AuditRecord[] = [];
        let sequence = head.sequence;
        let prevHash = head.hash;
        for (const p of items) {
          const r = build(p, ++sequence, prevHash);
          records.push(r);
          prevHash = r.Hash;
        }
        // One signed checkpoint per batch, made before anything is sent: a chain someone else
        // appends or cuts short no longer matches a head only Rollover's key could sign. Signing
        // is best effort: when Key Vault cannot sign now, the last signed checkpoint stays and
        // the next batch's covers this one (the hashes link them).
        let signed: SignedCheckpoint | undefined = head.signed;
        if (signer) {
          try {
            signed = {
              sequence,
              hash: prevHash,
              ...(await signer.sign(checkpointMessage(this.name, sequence, prevHash))),
            };
          } catch (e) {
            log?.(
              `audit: chain ${this.name}: checkpoint ${sequence} not signed (${redactedFirstLine(e)}); the next batch signs again`,
            );
          }
        }
        const lastTime = records.at(-1)?.TimeGenerated;
        const saved = await this.store.save(
          this.name,
          {
            sequence,
            hash: prevHash,
            ...(lastTime ? { lastTime: String(lastTime) } : {}),
            ...(signed ? { signed } : {}),
          },
          head,
        );
        if (saved) {
          this.head = saved;
          return records;
        }
        this.head = undefined; // someone else moved it: reload and rebuild
      }
      throw new AuditDeliveryError(
        `audit chain ${this.name}: could not reserve positions (too much contention)`,
      );
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

const chainsByStore = new WeakMap<ChainStore, Map<string, Chain>>();
function chainFor(store: ChainStore, name: string): Chain {
  let map = chainsByStore.get(store);
  if (!map) {
    map = new Map();
    chainsByStore.set(store, map);
  }
  let chain = map.get(name);
  if (!chain) {
    chain = new Chain(name, store);
    map.set(name, chain);
  }
  return chain;
}

export class AuditWriter implements AuditSink {
  readonly writer: string;
  readonly redaction: RedactionCounter;
  private buffer: Pending[] = [];
  /** Sealed records whose delivery failed and whose spooling failed too: first in the next flush. */
  private unsent: AuditRecord[] = [];
  private flushing: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly chain: Chain;
  readonly totals: FlushResult = { sent: 0, spooled: 0, rejected: 0 };

  constructor(private readonly options: AuditWriterOptions) {
    this.writer = options.writer ?? defaultWriterId();
    this.redaction = options.redaction ?? redactionCounter;
    this.chain = chainFor(options.chains, this.writer);
  }

  /** Buffers one event (redacted). Nothing is sent until flush(). */
  emit(event: AuditEvent): void {
    if (this.closed)
      this.options.log?.("audit: an event was emitted after close(); it waits for the next flush");
    this.buffer.push({
      event: this.clean(event),
      time: (this.options.clock ?? (() => new Date()))(),
      recordId: randomUUID(),
    });
  }

  /** Events buffered and records waiting to be resent by this writer. */
  get pendingCount(): number {
    return this.buffer.length + this.unsent.length;
  }

  private clean(event: AuditEvent): AuditEvent {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(event)) {
      out[key] =
        typeof value === "string"
          ? redact(value, { entropy: key === "message", counter: this.redaction })
          : value;
    }
    return out as unknown as AuditEvent;
  }

  /** Sends everything buffered; returns once each record is accepted or stored in the spool. */
  flush(): Promise<FlushResult> {
    const run = this.flushing.then(() => this.flushNow());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<FlushResult> {
    this.closed = true;
    return this.flush();
  }

  private async flushNow(): Promise<FlushResult> {
    const items = this.buffer;
    this.buffer = [];
    const o = this.options;
    let sealed: AuditRecord[] = [];
    if (items.length) {
      try {
        sealed = await this.chain.seal(
          items,
          (p, sequence, prevHash) =>
            toRecord(
              p.event,
              {
                runId: o.runId,
                trigger: o.trigger,
                actor: o.actor,
                writer: this.writer,
                sequence,
                prevHash,
                time: p.time,
                recordId: p.recordId,
                ...(o.dryRun !== undefined ? { dryRun: o.dryRun } : {}),
              },
              o.maxMessageLength !== undefined
                ? { maxMessageLength: Math.min(o.maxMessageLength, 32_768) }
                : {},
            ),
          o.signer,
          o.log,
        );
      } catch (e) {
        this.buffer = [...items, ...this.buffer];
        throw e;
      }
    }
    const records = [...this.unsent, ...sealed];
    this.unsent = [];
    const result: FlushResult = { sent: 0, spooled: 0, rejected: 0 };
    if (!records.length) return result;

    const sent = await o.transport.send(records);
    result.sent = sent.accepted.length;
    try {
      for (const f of sent.failed) {
        o.log?.(`audit: ${f.records.length} record(s) not accepted (${describe(f)}); storing them`);
        if (!o.spool)
          throw new AuditDeliveryError(`audit records not accepted (${describe(f)}) and no spool`);
        await o.spool.put(f.records, f.retryable ? "pending" : "rejected", describe(f));
        if (f.retryable) result.spooled += f.records.length;
        else result.rejected += f.records.length;
      }
    } catch (e) {
      const stored = new Set<string>();
      const all = await o.spool?.all().catch(() => []);
      for (const s of all ?? []) stored.add(s.record.RecordId);
      this.unsent = sent.failed.flatMap((f) => f.records).filter((r) => !stored.has(r.RecordId));
      throw e instanceof AuditDeliveryError
        ? e
        : new AuditDeliveryError(`audit records could not be sent nor stored: ${redactedFirstLine(e)}`);
    }
    this.totals.sent += result.sent;
    this.totals.spooled += result.spooled;
    this.totals.rejected += result.rejected;
    return result;
  }
}

function describe(f: FailedBatch): string {
  return [f.status ? `HTTP ${f.status}` : "no answer", f.code, f.message].filter(Boolean).join(" ");
}

/** The first line of an error's message (or of the value thrown), redacted. */
function redactedFirstLine(e: unknown): string {
  return redact(String((e as Error)?.message ?? e).split("\n")[0] ?? "", { counter: new RedactionCounter() });
}

/** A test-only stop: with ROLLOVER_TEST_CRASH_AT=<point>, the process dies here (SIGKILL). */
export function crashPoint(point: string): void {
  if (process.env.ROLLOVER_TEST_CRASH_AT === point) process.kill(process.pid, "SIGKILL");
}

/**
 * Sends what waits in the spool: writer by writer, in sequence order, each batch deleted from
 * storage only after the service accepted it. A writer whose batch fails again keeps the rest of
 * its records for the next time (its order stays).
 */
export async function flushSpool(options: {
  spool: AuditSpool;
  transport: AuditTransport;
  /** Most records read in one go (default 10,000). */
  limit?: number;
  /** Records per send (default 2,000). */
  batchSize?: number;
  log?: (line: string) => void;
}): Promise<SpoolFlushResult> {
  const { spool, transport } = options;
  const records = await spool.pending(options.limit ?? 10_000);
  const byWriter = new Map<string, AuditRecord[]>();
  for (const r of records) {
    let list = byWriter.get(r.Writer);
    if (!list) {
      list = [];
      byWriter.set(r.Writer, list);
    }
    list.push(r);
  }
  const out: SpoolFlushResult = { sent: 0, remaining: 0, rejected: 0, writers: byWriter.size };
  const batchSize = options.batchSize ?? 2000;
  for (const [writer, list] of byWriter) {
    list.sort((a, b) => a.Sequence - b.Sequence);
    for (let i = 0; i < list.length; i += batchSize) {
      const batch = list.slice(i, i + batchSize);
      const result = await transport.send(batch, { ordered: true });
      if (result.accepted.length) {
        crashPoint("after-upload");
        await spool.remove(result.accepted);
        out.sent += result.accepted.length;
      }
      const rejected = result.failed.filter((f) => !f.retryable);
      for (const f of rejected) {
        await spool.put(f.records, "rejected", describe(f));
        out.rejected += f.records.length;
      }
      const again = result.failed.filter((f) => f.retryable);
      if (again.length) {
        const left =
          list.length - i - result.accepted.length - rejected.reduce((n, f) => n + f.records.length, 0);
        out.remaining += left;
        options.log?.(`audit: spool of ${writer}: ${describe(again[0]!)}; ${left} record(s) wait`);
        break;
      }
    }
  }
  const counts = await spool.counts();
  out.remaining = counts.pending;
  return out;
}
