/**
 * Sends audit records to the Logs Ingestion API with `@azure/monitor-ingestion`.
 *
 * Records are cut into calls of at most `maxCallBytes` of JSON (default 999,000: under the
 * service's 1 MB limit and under the SDK's own 1,000,000-byte chunking, so one `upload()` is one
 * HTTP call and the transport knows exactly what each call carried). The SDK retries 429 and 5xx
 * itself (honouring Retry-After); what still fails comes back through `onError` /
 * `AggregateLogsUploadError` and is reported, never thrown. A 413 on a call of several records
 * is split in two and sent again; a single record refused with 400 or 413 is reported as not
 * retryable.
 */
import { gzipSync } from "node:zlib";
import type { TokenCredential } from "@azure/identity";
import { isAggregateLogsUploadError, LogsIngestionClient } from "@azure/monitor-ingestion";
import type { AuditTransport, FailedBatch, SendResult } from "../audit/ports.js";
import type { AuditRecord } from "../audit/record.js";
import { RedactionCounter, redact } from "../audit/redact.js";

type PipelinePolicy = Parameters<LogsIngestionClient["pipeline"]["addPolicy"]>[0];

export interface LogsIngestionTransportOptions {
  endpoint: string;
  ruleId: string;
  streamName: string;
  credential: TokenCredential;
  /** Calls in flight at once when order does not matter (default 1: records arrive in order). */
  maxConcurrency?: number;
  maxCallBytes?: number;
  /** The SDK's retry policy (default: its own, 3 retries). */
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
}

export interface TransportStats {
  requests: number;
  /** Per HTTP call: JSON bytes and gzip bytes on the wire. */
  callBytes: Array<{ json: number; wire: number }>;
}

export const DEFAULT_MAX_CALL_BYTES = 999_000;

export class LogsIngestionTransport implements AuditTransport {
  readonly client: LogsIngestionClient;
  readonly stats: TransportStats = { requests: 0, callBytes: [] };

  constructor(private readonly options: LogsIngestionTransportOptions) {
    this.client = new LogsIngestionClient(options.endpoint, options.credential, {
      userAgentOptions: { userAgentPrefix: "rollover-audit" },
      ...(options.retryOptions ? { retryOptions: options.retryOptions } : {}),
    });
    const stats = this.stats;
    const measure: PipelinePolicy = {
      name: "RolloverAuditMeasure",
      async sendRequest(request, next) {
        stats.requests++;
        const body = request.body;
        const wire =
          body instanceof Uint8Array ? body.byteLength : typeof body === "string" ? body.length : 0;
        stats.callBytes.push({ json: 0, wire });
        return next(request);
      },
    };
    this.client.pipeline.addPolicy(measure, { afterPolicies: ["GzippingPolicy"] });
  }

  /** Cuts records into calls whose JSON array stays within `maxCallBytes`. */
  static chunk(records: AuditRecord[], maxCallBytes = DEFAULT_MAX_CALL_BYTES): AuditRecord[][] {
    const out: AuditRecord[][] = [];
    let current: AuditRecord[] = [];
    let size = 2;
    for (const r of records) {
      const n = Buffer.byteLength(JSON.stringify(r), "utf8") + 1;
      if (current.length && size + n > maxCallBytes) {
        out.push(current);
        current = [];
        size = 2;
      }
      current.push(r);
      size += n;
    }
    if (current.length) out.push(current);
    return out;
  }

  async send(records: AuditRecord[], options: { ordered?: boolean } = {}): Promise<SendResult> {
    const calls = LogsIngestionTransport.chunk(records, this.options.maxCallBytes);
    const result: SendResult = { accepted: [], failed: [] };
    const ordered = options.ordered ?? false;
    const concurrency = ordered ? 1 : Math.max(1, this.options.maxConcurrency ?? 1);
    let next = 0;
    let stopped = false;
    const outcomes: Array<SendResult | undefined> = new Array(calls.length);
    const worker = async () => {
      while (next < calls.length) {
        const index = next++;
        const call = calls[index]!;
        if (stopped) {
          outcomes[index] = {
            accepted: [],
            failed: [{ records: call, retryable: true, message: "not sent: an earlier call failed" }],
          };
          continue;
        }
        const r = await this.sendCall(call);
        outcomes[index] = r;
        if (ordered && r.failed.some((f) => f.retryable)) stopped = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, calls.length) }, worker));
    for (const o of outcomes) {
      if (!o) continue;
      result.accepted.push(...o.accepted);
      result.failed.push(...o.failed);
    }
    return result;
  }

  /** One HTTP call (split in two on a 413). */
  private async sendCall(records: AuditRecord[]): Promise<SendResult> {
    const json = JSON.stringify(records);
    const before = this.stats.callBytes.length;
    let failure: FailedBatch | undefined;
    try {
      await this.client.upload(
        this.options.ruleId,
        this.options.streamName,
        records as unknown as Array<Record<string, unknown>>,
        { maxConcurrency: 1 },
      );
    } catch (e) {
      failure = classify(records, isAggregateLogsUploadError(e) ? e.errors[0]?.cause : e);
    }
    const jsonBytes = Buffer.byteLength(json, "utf8");
    for (let i = before; i < this.stats.callBytes.length; i++) this.stats.callBytes[i]!.json = jsonBytes;
    if (!failure) return { accepted: records, failed: [] };
    if (failure.status === 413 && records.length > 1) {
      const half = Math.ceil(records.length / 2);
      const a = await this.sendCall(records.slice(0, half));
      const b = await this.sendCall(records.slice(half));
      return { accepted: [...a.accepted, ...b.accepted], failed: [...a.failed, ...b.failed] };
    }
    return { accepted: [], failed: [failure] };
  }
}

/** The gzip size of a JSON body, as the SDK would send it (for measurements). */
export function gzipSize(records: AuditRecord[]): number {
  return gzipSync(JSON.stringify(records)).byteLength;
}

function classify(records: AuditRecord[], cause: unknown): FailedBatch {
  const e = cause as { statusCode?: number; code?: string; message?: string } | undefined;
  const status = typeof e?.statusCode === "number" ? e.statusCode : undefined;
  const message = redact(
    String(e?.message ?? "upload failed")
      .split("\n")[0]!
      .slice(0, 300),
    {
      counter: new RedactionCounter(),
    },
  );
  // 400 (payload) and 413 (size) will fail the same way again; all else may pass later.
  const retryable = !(status === 400 || status === 413);
  return {
    records,
    ...(status !== undefined ? { status } : {}),
    ...(e?.code ? { code: String(e.code) } : {}),
    retryable,
    message,
  };
}
