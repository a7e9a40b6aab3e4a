/**
 * JSON batching (`POST /$batch`; concepts/json-batching.md, research graph-entra.md §3.3): at most
 * 20 requests with unique ids and relative URLs; `dependsOn` orders them, and a request whose
 * dependency failed gets 424 Failed Dependency; each inner request is authorized and throttled on
 * its own (an inner 429 carries its own Retry-After); the outer response is 200 once the batch
 * parses, 400 when it does not.
 */
import { serviceError } from "../errors.js";
import { parseQuery, safeDecode, type SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import { GraphError } from "./graph-error.js";
import { errorResponse, type GraphRequest, methodNotAllowed } from "./odata.js";
import { handleGraph } from "./routes.js";

interface InnerRequest {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

interface InnerResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const MAX_REQUESTS = 20;

/** Whether a path is Graph's batch endpoint (`/v1.0/$batch`, `/beta/$batch`). */
export function isBatchPath(path: string): boolean {
  return /^\/(?:v1\.0|beta)\/(?:\$|%24)batch$/i.test(path);
}

/**
 * The writes a batch body carries: its inner requests other than GET and HEAD (the request
 * counter counts a batch of reads as reads). An unreadable body writes nothing (it is refused).
 */
export function batchWrites(raw: Buffer): number {
  try {
    const requests = (JSON.parse(raw.toString("utf8")) as { requests?: unknown })?.requests;
    if (!Array.isArray(requests)) return 0;
    return requests.filter((r) => {
      const m = String((r as { method?: unknown })?.method ?? "").toUpperCase();
      return m !== "GET" && m !== "HEAD";
    }).length;
  } catch {
    return 0;
  }
}

function bad(message: string): GraphError {
  return new GraphError(400, "BadRequest", message);
}

function parseBatch(g: GraphRequest): InnerRequest[] {
  const ct = String(g.headers["content-type"] ?? "");
  if (!/^application\/json\b/i.test(ct))
    throw bad("Invalid content type: the batch body must be application/json.");
  let parsed: unknown;
  try {
    parsed = JSON.parse(g.body.toString("utf8"));
  } catch (e) {
    throw bad(`Unable to read JSON request payload. (${(e as Error).message})`);
  }
  const requests = (parsed as { requests?: unknown })?.requests;
  if (!Array.isArray(requests) || requests.length === 0)
    throw bad("Invalid batch payload format: 'requests' must be a non-empty array.");
  if (requests.length > MAX_REQUESTS)
    throw bad(`Invalid batch payload format: the number of requests exceeds the limit of ${MAX_REQUESTS}.`);
  const ids = new Set<string>();
  const out: InnerRequest[] = [];
  for (const r of requests) {
    if (typeof r !== "object" || r === null)
      throw bad("Invalid batch payload format: every request must be an object.");
    const x = r as Record<string, unknown>;
    const id = x.id;
    if (typeof id !== "string" || !id)
      throw bad("Invalid batch payload format: every request needs a string 'id'.");
    if (ids.has(id)) throw bad(`Invalid batch payload format: duplicate request id '${id}'.`);
    ids.add(id);
    if (typeof x.method !== "string" || typeof x.url !== "string")
      throw bad(`Invalid batch payload format: request '${id}' needs 'method' and 'url'.`);
    if (/^https?:/i.test(x.url))
      throw bad(`Invalid batch payload format: request '${id}' must use a relative url.`);
    const dependsOn = x.dependsOn;
    if (
      dependsOn !== undefined &&
      (!Array.isArray(dependsOn) || dependsOn.some((d) => typeof d !== "string"))
    )
      throw bad(`Invalid batch payload format: 'dependsOn' of request '${id}' must be an array of ids.`);
    out.push({
      id,
      method: x.method.toUpperCase(),
      url: x.url,
      ...(typeof x.headers === "object" && x.headers !== null
        ? { headers: x.headers as Record<string, string> }
        : {}),
      ...(x.body !== undefined ? { body: x.body } : {}),
      ...(dependsOn ? { dependsOn: dependsOn as string[] } : {}),
    });
  }
  for (const r of out)
    for (const d of r.dependsOn ?? [])
      if (!ids.has(d) || d === r.id)
        throw bad(`Invalid batch payload format: request '${r.id}' depends on unknown request '${d}'.`);
  return out;
}

export async function runBatch(ctx: SandboxContext, g: GraphRequest): Promise<SandboxResponse> {
  if (g.method.toUpperCase() !== "POST") return errorResponse(methodNotAllowed(), g.requestId);
  let requests: InnerRequest[];
  try {
    requests = parseBatch(g);
  } catch (e) {
    if (e instanceof GraphError) return errorResponse(e, g.requestId);
    throw e;
  }
  const done = new Map<string, InnerResponse>();
  let pending = [...requests];
  while (pending.length > 0) {
    const ready = pending.filter((r) => (r.dependsOn ?? []).every((d) => done.has(d)));
    if (ready.length === 0)
      return errorResponse(
        bad("Invalid batch payload format: the dependsOn graph has a cycle."),
        g.requestId,
      );
    pending = pending.filter((r) => !ready.includes(r));
    const results = await Promise.all(
      ready.map(async (r): Promise<InnerResponse> => {
        const failedDep = (r.dependsOn ?? []).find((d) => {
          const s = done.get(d)?.status ?? 0;
          return s < 200 || s > 299;
        });
        if (failedDep !== undefined) {
          const e = serviceError(
            "graph",
            424,
            "FailedDependency",
            `Request ${r.id} depends on request ${failedDep}, which failed.`,
            g.requestId,
          );
          return { id: r.id, status: 424, body: e.body };
        }
        return runInner(ctx, g, r);
      }),
    );
    for (const res of results) done.set(res.id, res);
  }
  return {
    status: 200,
    headers: { "OData-Version": "4.0", "Cache-Control": "no-cache" },
    body: { responses: requests.map((r) => done.get(r.id)) },
  };
}

async function runInner(ctx: SandboxContext, outer: GraphRequest, r: InnerRequest): Promise<InnerResponse> {
  const url = new URL(r.url.startsWith("/") ? r.url : `/${r.url}`, "https://graph.invalid");
  const innerHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) innerHeaders[k.toLowerCase()] = String(v);
  let body = Buffer.alloc(0);
  if (r.body !== undefined) {
    if (!innerHeaders["content-type"]) {
      const e = serviceError(
        "graph",
        400,
        "BadRequest",
        "Content-Type header is required when a batch request has a body.",
        outer.requestId,
      );
      return { id: r.id, status: 400, headers: { "Content-Type": "application/json" }, body: e.body };
    }
    body = Buffer.from(typeof r.body === "string" ? r.body : JSON.stringify(r.body), "utf8");
  }
  const g: GraphRequest = {
    method: r.method,
    version: outer.version,
    segments: url.pathname.split("/").filter(Boolean).map(safeDecode),
    rawPath: url.pathname,
    query: parseQuery(url),
    headers: { ...outer.headers, "content-type": undefined, "content-length": undefined, ...innerHeaders },
    body,
    requestId: outer.requestId,
  };
  const res = await handleGraph(ctx, g);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers ?? {})) {
    if (
      /^(retry-after|location|odata-version|x-ms-throttle-.*|x-ms-resource-unit|preference-applied)$/i.test(k)
    )
      headers[k] = v;
  }
  if (res.body !== undefined && res.status !== 204)
    headers["Content-Type"] = "application/json; charset=utf-8";
  return {
    id: r.id,
    status: res.status,
    headers,
    ...(res.body !== undefined && res.status !== 204 ? { body: res.body } : {}),
  };
}
