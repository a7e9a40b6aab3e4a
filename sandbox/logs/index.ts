/**
 * Logs Ingestion API: one data collection rule (`DCR_IMMUTABLE_ID`) with one custom stream
 * (`STREAM_NAME`), as a `kind: Direct` DCR gives a workspace its ingestion endpoint.
 *
 *   POST {endpoint}/dataCollectionRules/{immutableId}/streams/{stream}?api-version=2023-01-01
 *
 * Wire facts (kv-monitor-functions.md §4): bearer token for `https://monitor.azure.com`, body a
 * JSON array (the SDK always sends `Content-Encoding: gzip`), 204 on success, at most 1 MB per call
 * compressed and uncompressed, 429 with `Retry-After` when throttled (the fault injector answers
 * those before the route runs).
 */
import { serviceError } from "../errors.js";
import { bearerToken, type Route, type SandboxRequest, type SandboxResponse } from "../http.js";
import { TokenError } from "../tokens.js";
import type { IngestedRecord, LogsStore, SandboxContext } from "../types.js";

/** Audience of Logs Ingestion tokens (scope `https://monitor.azure.com/.default`, research §4). */
export const MONITOR_AUDIENCE = "https://monitor.azure.com";

/**
 * "Maximum size of API call: 1 MB for both compressed and uncompressed data"
 * (azure-docs `includes/azure-monitor-limits-custom-logs.md`). The service counts 1 MB as
 * 1,048,576 bytes: its 413 reads "Maximum allowed content length: 1048576 bytes (1 MB)".
 */
export const MAX_CALL_BYTES = 1_048_576;

export const SUPPORTED_API_VERSIONS: ReadonlySet<string> = new Set(["2023-01-01", "2021-11-01-preview"]);

export interface LogsStoreInternal extends LogsStore {
  append(records: IngestedRecord[]): void;
}

export function createLogsStore(): LogsStoreInternal {
  let list: IngestedRecord[] = [];
  return {
    records(filter) {
      const all = filter?.stream ? list.filter((r) => r.stream === filter.stream) : list;
      return all.map((r) => ({ ...r, record: { ...r.record } }));
    },
    append(records) {
      list.push(...records);
    },
    tamper(index, change) {
      if (!Number.isInteger(index) || index < 0 || index >= list.length) {
        throw new RangeError(`no log record at index ${index} (there are ${list.length})`);
      }
      if (change === null) {
        list.splice(index, 1);
        return;
      }
      const current = list[index]!;
      const record: Record<string, unknown> = { ...current.record };
      for (const [k, v] of Object.entries(change)) {
        if (v === null) delete record[k];
        else record[k] = v;
      }
      list[index] = { ...current, record };
    },
    reset() {
      list = [];
    },
  };
}

/** The rules and streams the sandbox's workspace accepts: immutable id → stream names. */
function declaredStreams(ctx: SandboxContext): Map<string, Set<string>> {
  return new Map([[ctx.urls.dcrImmutableId, new Set([ctx.urls.streamName])]]);
}

export function logsRoutes(ctx: SandboxContext): Route[] {
  const store = ctx.logs as LogsStoreInternal;
  const rules = declaredStreams(ctx);
  return [
    {
      service: "logs",
      method: "POST",
      path: "/dataCollectionRules/:ruleId/streams/:stream",
      handler: (req) => ingest(ctx, store, rules, req),
    },
  ];
}

function fail(req: SandboxRequest, status: number, code: string, message: string): SandboxResponse {
  return serviceError("logs", status, code, message, req.requestId);
}

async function ingest(
  ctx: SandboxContext,
  store: LogsStoreInternal,
  rules: Map<string, Set<string>>,
  req: SandboxRequest,
): Promise<SandboxResponse> {
  // Authentication first, as the front door does. Azure Monitor's REST APIs answer a missing
  // header with 401 AuthenticationFailed and a bad token with InvalidAuthenticationToken(Audience)
  // (learn.microsoft.com/azure/azure-monitor/logs/api/errors; the ingestion front end is assumed
  // to use the same codes).
  const token = bearerToken(req);
  if (!token) {
    return fail(
      req,
      401,
      "AuthenticationFailed",
      "Authentication failed. The 'Authorization' header is missing.",
    );
  }
  try {
    await ctx.tokens.verify(token, MONITOR_AUDIENCE);
  } catch (e) {
    if (e instanceof TokenError && e.reason === "audience") {
      return fail(
        req,
        401,
        "InvalidAuthenticationTokenAudience",
        `The access token has been obtained from wrong audience or resource. It should exactly match with the allowed audience '${MONITOR_AUDIENCE}'.`,
      );
    }
    return fail(
      req,
      401,
      "InvalidAuthenticationToken",
      `The access token is invalid: ${(e as Error).message}.`,
    );
  }

  const apiVersion = req.query.get("api-version");
  if (!apiVersion) {
    return fail(
      req,
      400,
      "MissingApiVersionParameter",
      "The api-version query parameter (?api-version=) is required for all requests.",
    );
  }
  if (!SUPPORTED_API_VERSIONS.has(apiVersion)) {
    return fail(
      req,
      400,
      "InvalidApiVersionParameter",
      `The api-version '${apiVersion}' is invalid. The supported versions are '${[...SUPPORTED_API_VERSIONS].join("','")}'.`,
    );
  }

  const ruleId = req.params.ruleId ?? "";
  const stream = req.params.stream ?? "";
  const streams = rules.get(ruleId);
  if (!streams) {
    return fail(req, 404, "NotFound", `Data collection rule with immutable Id '${ruleId}' not found.`);
  }
  if (!streams.has(stream)) {
    return fail(
      req,
      404,
      "InvalidStream",
      `Stream '${stream}' is not declared in data collection rule '${ruleId}'.`,
    );
  }

  // Both sizes count: the bytes on the wire and the bytes after gunzip. Error text as the
  // service's (AzADServicePrincipalInsights issue #30: 413 ContentLengthLimitExceeded).
  const wireLength = Number(req.headers["content-length"] ?? req.body.length);
  const size = Math.max(Number.isFinite(wireLength) ? wireLength : 0, req.body.length);
  if (size > MAX_CALL_BYTES) {
    return fail(
      req,
      413,
      "ContentLengthLimitExceeded",
      `Maximum allowed content length: ${MAX_CALL_BYTES} bytes (1 MB). Provided content length: ${size} bytes.`,
    );
  }

  const contentType = String(req.headers["content-type"] ?? "").toLowerCase();
  if (!contentType.startsWith("application/json")) {
    return fail(
      req,
      415,
      "UnsupportedMediaType",
      `Content type '${contentType || "(none)"}' is not supported. Use 'application/json'.`,
    );
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString("utf8"));
  } catch (e) {
    return fail(req, 400, "InvalidPayload", `Request body is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed)) {
    return fail(req, 400, "InvalidPayload", "Request body must be a JSON array of objects.");
  }
  const bad = parsed.findIndex((r) => typeof r !== "object" || r === null || Array.isArray(r));
  if (bad >= 0) {
    return fail(req, 400, "InvalidPayload", `Item ${bad} of the request body is not a JSON object.`);
  }

  // Every Log Analytics table has TimeGenerated (datetime). The sandbox's DCR transform is
  // `source | extend TimeGenerated = iif(isnull(TimeGenerated), now(), TimeGenerated)`: a
  // sender's value is kept, a missing one becomes the ingestion time (tutorial-logs-ingestion-api.md).
  const receivedAt = ctx.clock.nowDate().toISOString();
  const records: IngestedRecord[] = (parsed as Array<Record<string, unknown>>).map((r) => {
    const sent = r.TimeGenerated;
    const keep = typeof sent === "string" && !Number.isNaN(Date.parse(sent));
    return {
      dcrImmutableId: ruleId,
      stream,
      receivedAt,
      record: { ...r, TimeGenerated: keep ? sent : receivedAt },
    };
  });
  store.append(records);
  return { status: 204, headers: { "x-ms-request-id": req.requestId } };
}
