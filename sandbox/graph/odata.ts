/**
 * A Graph request as the sandbox's routes see it, and the OData pieces every route answers with:
 * the reply (`OData-Version: 4.0`), `@odata.context` URLs, the error envelope, the JSON body of a
 * write, and the common errors (404 for an object, 405 for a method).
 */
import type { IncomingHttpHeaders } from "node:http";
import { serviceError } from "../errors.js";
import { BodyError, safeDecode, type SandboxRequest, type SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import { APPLICATION_KINDS, type DirObject, DirectoryError } from "./directory.js";
import { GraphError } from "./graph-error.js";
import { type Collection, parseSelect, SelectError } from "./model.js";

/** A request as Graph's dispatcher sees it (outer requests and `$batch` inner ones alike). */
export interface GraphRequest {
  method: string;
  version: string;
  /** Path segments after the version, percent-decoded. */
  segments: string[];
  /** The raw path after the version (for nextLink). */
  rawPath: string;
  query: Map<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
}

export function toGraphRequest(req: SandboxRequest): GraphRequest {
  const m = /^\/(v1\.0|beta)(\/.*)?$/i.exec(req.url.pathname);
  const rawPath = m?.[2] ?? "";
  return {
    method: req.method,
    version: (m?.[1] ?? "v1.0").toLowerCase() === "beta" ? "beta" : "v1.0",
    segments: rawPath.split("/").filter(Boolean).map(safeDecode),
    rawPath,
    query: req.query,
    headers: req.headers,
    body: req.body,
    requestId: req.requestId,
  };
}

export function errorResponse(e: GraphError, requestId: string): SandboxResponse {
  return serviceError("graph", e.status, e.code, e.message, requestId, e.headers);
}

/** Runs a Graph handler; what it refuses (a GraphError, DirectoryError or BodyError) is answered in Graph's envelope. */
export async function answered(
  requestId: string,
  handler: () => Promise<SandboxResponse>,
): Promise<SandboxResponse> {
  try {
    return await handler();
  } catch (e) {
    if (e instanceof GraphError) return errorResponse(e, requestId);
    if (e instanceof DirectoryError)
      return errorResponse(new GraphError(e.status, e.code, e.message), requestId);
    if (e instanceof BodyError) return errorResponse(new GraphError(400, "BadRequest", e.message), requestId);
    throw e;
  }
}

export function ok(body: unknown, headers: Record<string, string>, status = 200): SandboxResponse {
  return { status, headers: { "OData-Version": "4.0", ...headers }, body };
}

/** The service root of the request's version: `https://…/v1.0` or `https://…/beta`. */
export function base(ctx: SandboxContext, g: GraphRequest): string {
  return `${ctx.urls.graphBaseUrl.replace(/\/$/, "")}/${g.version}`;
}

export function contextUrl(ctx: SandboxContext, g: GraphRequest, what: string): string {
  return `${base(ctx, g)}/$metadata#${what}`;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function notFound(id: string): GraphError {
  return new GraphError(
    404,
    "Request_ResourceNotFound",
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

export function methodNotAllowed(): GraphError {
  return new GraphError(
    405,
    "Request_BadRequest",
    "Specified HTTP method is not allowed for the request uri.",
  );
}

/** The names `$select` lists, as given (undefined without `$select`). */
export function selectedNames(g: GraphRequest): string[] | undefined {
  return g.query
    .get("$select")
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A record narrowed to the `$select`ed properties (all of them without `$select`). */
export function pick(
  full: Record<string, unknown>,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  return select ? Object.fromEntries(select.map((k) => [k, full[k]])) : full;
}

/** `$select` of a collection's properties (`raw`: the request's own, or one a delta token carries). */
export function selectOf(collection: Collection, raw: string | undefined): string[] | undefined {
  try {
    return parseSelect(collection, raw);
  } catch (e) {
    if (e instanceof SelectError) throw new GraphError(400, "Request_BadRequest", e.message);
    throw e;
  }
}

/** `what(p1,p2)`: an `@odata.context` naming the `$select`ed properties. */
export function withSelect(what: string, select: string[] | undefined): string {
  return `${what}${select ? `(${select.join(",")})` : ""}`;
}

/** The type-cast segment an `@odata.context` names (`/microsoft.graph.agentIdentity`); none for the base types. */
export function castSegment(cast: string | undefined): string {
  return cast && cast !== "application" && cast !== "servicePrincipal" ? `/microsoft.graph.${cast}` : "";
}

/** Whether `o` lives in `collection`: applications and blueprints, or the principals. */
export function inCollection(o: DirObject, collection: Collection): boolean {
  return collection === "applications" ? APPLICATION_KINDS.has(o.kind) : !APPLICATION_KINDS.has(o.kind);
}

export function kindMatchesCast(o: DirObject, cast: string | undefined): boolean {
  if (!cast || cast === "application" || cast === "servicePrincipal") return true;
  return o.kind === cast;
}

export function requireJson(g: GraphRequest): Record<string, unknown> {
  const ct = String(g.headers["content-type"] ?? "");
  if (g.body.length > 0 && !/^application\/json\b/i.test(ct))
    throw new GraphError(
      415,
      "UnsupportedMediaType",
      `Content-Type '${ct || "(none)"}' is not supported; use application/json.`,
    );
  if (g.body.length === 0)
    throw new GraphError(400, "Request_BadRequest", "The request body is empty; a JSON object is required.");
  let v: unknown;
  try {
    v = JSON.parse(g.body.toString("utf8"));
  } catch (e) {
    throw new GraphError(
      400,
      "BadRequest",
      `Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format. (${(e as Error).message})`,
    );
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new GraphError(400, "BadRequest", "The request body must be a JSON object.");
  return v as Record<string, unknown>;
}
