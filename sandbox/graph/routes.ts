/**
 * Microsoft Graph (`/v1.0` and `/beta`) for directory applications and service principals,
 * including the agent identity types reached through OData type-cast segments
 * (`/applications/microsoft.graph.agentIdentityBlueprint`, `/applications/{id}/
 * microsoft.graph.agentIdentityBlueprint/addKey`, `/servicePrincipals/microsoft.graph.agentIdentity`;
 * research graph-entra.md §1.2).
 *
 * One route catches every Graph path; this module parses the path itself, so that `$batch` can run
 * its inner requests through the same code (authorization and throttling per inner request).
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { serviceError } from "../errors.js";
import { BodyError, bearerToken, safeDecode, type SandboxRequest, type SandboxResponse } from "../http.js";
import { TokenError } from "../tokens.js";
import type { SandboxContext } from "../types.js";
import { effectiveDelegatedRoles } from "../entra/operator.js";
import { GRAPH_RESOURCE, verifySandboxToken } from "../entra/resources.js";
import {
  type DirObject,
  Directory,
  DirectoryError,
  graphDate,
  APPLICATION_KINDS,
  lagWrite,
  staleView,
  type Tenant,
} from "./directory.js";
import {
  type Collection,
  decodeToken,
  encodeToken,
  FilterError,
  keyCredentialJson,
  objectJson,
  ODATA_TYPES,
  defaultPropsOf,
  parseFilter,
  parseSelect,
  passwordCredentialJson,
  SelectError,
} from "./model.js";
import { GraphError } from "./graph-error.js";
import { checkProof } from "./proof.js";
import { GraphThrottle } from "./throttle.js";
import { enforceKeyCredential, enforcePasswordCredential } from "./policies.js";
import { certInfo } from "./certs.js";
import { appRoleAssignments } from "./appRoleAssignments.js";

export interface GraphState {
  dir: Directory;
  throttle: GraphThrottle;
}

const states = new WeakMap<SandboxContext, GraphState>();

export function graphState(ctx: SandboxContext): GraphState {
  let s = states.get(ctx);
  if (!s) {
    if (!(ctx.directory instanceof Directory))
      throw new Error("the Graph routes need the directory made by createDirectory()");
    s = { dir: ctx.directory, throttle: new GraphThrottle(ctx.clock) };
    states.set(ctx, s);
  }
  return s;
}

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

export interface Caller {
  tenantId: string;
  tenant: Tenant;
  oid: string;
  appid: string;
  roles: Set<string>;
}

const READ_ROLES = [
  "Application.Read.All",
  "Application.ReadWrite.All",
  "Application.ReadWrite.OwnedBy",
  "Directory.Read.All",
  "Directory.ReadWrite.All",
];
const BLUEPRINT_READ_ROLES = [
  "AgentIdentityBlueprint.Read.All",
  "AgentIdentityBlueprint.ReadWrite.All",
  "AgentIdentityBlueprint.AddRemoveCreds.All",
];
const AGENT_READ_ROLES = ["AgentIdentity.Read.All", "AgentIdentity.ReadWrite.All"];

const CAST =
  /^(?:microsoft\.)?graph\.(agentIdentityBlueprintPrincipal|agentIdentityBlueprint|agentIdentity|application|servicePrincipal)$/i;

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

export async function handleGraph(ctx: SandboxContext, g: GraphRequest): Promise<SandboxResponse> {
  try {
    return await route(ctx, g);
  } catch (e) {
    if (e instanceof GraphError) return errorResponse(e, g.requestId);
    if (e instanceof DirectoryError)
      return errorResponse(new GraphError(e.status, e.code, e.message), g.requestId);
    if (e instanceof BodyError)
      return errorResponse(new GraphError(400, "BadRequest", e.message), g.requestId);
    throw e;
  }
}

export async function authenticate(ctx: SandboxContext, g: GraphRequest): Promise<Caller> {
  const header = g.headers.authorization;
  const token = bearerToken({ headers: g.headers } as SandboxRequest);
  const challenge = {
    "WWW-Authenticate": `Bearer realm="", authorization_uri="${ctx.urls.authorityHost}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
  };
  if (!header || !token)
    throw new GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge);
  let claims: Record<string, unknown>;
  try {
    claims = (await verifySandboxToken(ctx, token, [
      GRAPH_RESOURCE,
      "00000003-0000-0000-c000-000000000000",
    ])) as Record<string, unknown>;
  } catch (e) {
    const reason = e instanceof TokenError ? e.reason : "malformed";
    const message =
      reason === "expired"
        ? "Lifetime validation failed, the token is expired."
        : reason === "audience"
          ? "Access token validation failure. Invalid audience."
          : reason === "signature"
            ? "Access token validation failure. Invalid signature."
            : "IDX14100: JWT is not well formed, there are no dots (.).";
    throw new GraphError(401, "InvalidAuthenticationToken", message, challenge);
  }
  const tenantId = String(claims.tid ?? "").toLowerCase();
  const tenant = graphState(ctx).dir.tenant(tenantId);
  if (!tenant)
    throw new GraphError(
      401,
      "InvalidAuthenticationToken",
      "Access token validation failure. Invalid tenant.",
      challenge,
    );
  // App-only tokens carry application permissions in `roles`; a person's delegated token carries
  // `scp` and their directory roles in `wids`, which together decide what they may do (operator.ts).
  const roles =
    claims.idtyp === "user"
      ? effectiveDelegatedRoles(
          String(claims.scp ?? "")
            .split(" ")
            .filter(Boolean),
          Array.isArray(claims.wids) ? claims.wids.map(String) : [],
        )
      : Array.isArray(claims.roles)
        ? claims.roles.map(String)
        : [];
  return {
    tenantId,
    tenant,
    oid: String(claims.oid ?? "").toLowerCase(),
    appid: String(claims.appid ?? "").toLowerCase(),
    roles: new Set(roles),
  };
}

export function denied(): GraphError {
  return new GraphError(
    403,
    "Authorization_RequestDenied",
    "Insufficient privileges to complete the operation.",
  );
}

/**
 * A read-only route: GET only (405 otherwise, as Graph answers), and a caller holding one of
 * `roles` (403 Authorization_RequestDenied otherwise).
 */
export async function authorizeRead(
  ctx: SandboxContext,
  g: GraphRequest,
  roles: readonly string[],
): Promise<Caller> {
  if (g.method.toUpperCase() !== "GET")
    throw new GraphError(
      405,
      "Request_BadRequest",
      "Specified HTTP method is not allowed for the request uri.",
    );
  const caller = await authenticate(ctx, g);
  if (!roles.some((r) => caller.roles.has(r)))
    throw new GraphError(
      403,
      "Authorization_RequestDenied",
      "Insufficient privileges to complete the operation.",
    );
  return caller;
}

function hasAny(c: Caller, roles: string[]): boolean {
  return roles.some((r) => c.roles.has(r));
}

function canReadCollection(c: Caller, kinds: "applications" | "servicePrincipals", cast?: string): boolean {
  if (hasAny(c, READ_ROLES)) return true;
  if (cast === "agentIdentityBlueprint" || cast === "agentIdentityBlueprintPrincipal")
    return hasAny(c, BLUEPRINT_READ_ROLES);
  if (cast === "agentIdentity") return hasAny(c, AGENT_READ_ROLES);
  void kinds;
  return false;
}

export function canRead(c: Caller, o: DirObject): boolean {
  if (hasAny(c, READ_ROLES)) return true;
  if (o.kind === "agentIdentityBlueprint" || o.kind === "agentIdentityBlueprintPrincipal")
    return hasAny(c, BLUEPRINT_READ_ROLES) || o.owners.includes(c.oid);
  if (o.kind === "agentIdentity") return hasAny(c, AGENT_READ_ROLES) || c.appid === o.blueprintAppId;
  return false;
}

/** Whether the caller is the object itself (an app rolling its own keys needs no permission). */
function isSelf(c: Caller, o: DirObject): boolean {
  return APPLICATION_KINDS.has(o.kind) ? c.appid === o.appId : c.oid === o.id;
}

function isBlueprintKind(o: DirObject): boolean {
  return o.kind === "agentIdentityBlueprint" || o.kind === "agentIdentityBlueprintPrincipal";
}

/**
 * Writes: Application.ReadWrite.All, or Application.ReadWrite.OwnedBy on objects the caller owns
 * (application-update.md; permissions notes for Application.ReadWrite.OwnedBy).
 *
 * Agent identity blueprints take only the AgentIdentityBlueprint permissions: addKey, removeKey,
 * addPassword, removePassword and PATCH of credentials list AgentIdentityBlueprint.AddRemoveCreds.All
 * (least) and AgentIdentityBlueprint.ReadWrite.All (microsoft-graph-docs-contrib
 * api-reference/v1.0/includes/permissions/agentidentityblueprint-addkey-permissions.md,
 * -removekey-, -update-permissions.md; PATCH of other properties also takes
 * AgentIdentityBlueprint.UpdateBranding.All). Application.ReadWrite.OwnedBy / .All are not listed,
 * so they do not cover blueprints here.
 */
function canWrite(c: Caller, o: DirObject, credentials = false): boolean {
  if (isBlueprintKind(o)) {
    if (c.roles.has("AgentIdentityBlueprint.ReadWrite.All")) return true;
    return credentials
      ? c.roles.has("AgentIdentityBlueprint.AddRemoveCreds.All")
      : c.roles.has("AgentIdentityBlueprint.UpdateBranding.All");
  }
  if (c.roles.has("Application.ReadWrite.All")) return true;
  if (c.roles.has("Application.ReadWrite.OwnedBy") && o.owners.includes(c.oid)) return true;
  if (
    o.kind === "agentIdentity" &&
    (c.roles.has("AgentIdentity.ReadWrite.All") || c.appid === o.blueprintAppId)
  )
    return true;
  return false;
}

/**
 * addKey/removeKey as the object itself. An application "does not need any specific permission
 * to roll its own keys" (application-addkey.md, application-removekey.md). The blueprint pages
 * (agentidentityblueprint-addkey.md, -removekey.md) carry no such note and list only the
 * AgentIdentityBlueprint permissions, so a blueprint rolling its own key needs one of them in its
 * own token, like any other caller: the strictest reading of what is documented.
 */
function canRollKeys(c: Caller, o: DirObject): boolean {
  if (isSelf(c, o) && !isBlueprintKind(o)) return true;
  return canWrite(c, o, true);
}

/**
 * Entra is eventually consistent: "a successful write is not always visible to the next read"
 * (devblogs.microsoft.com/identity, designing for eventual consistency for Microsoft Entra).
 * With a `stale` fault on, a read sees each object as it was that many ms ago on the virtual clock.
 */
function readLag(ctx: SandboxContext, g: GraphRequest): (o: DirObject) => DirObject {
  const ms = ctx.faults.staleMs("graph", g.method, `/${g.version}${g.rawPath}`);
  if (ms <= 0) return (o) => o;
  const now = ctx.clock.now();
  return (o) => staleView(o, ms, now);
}

/** Around a Graph write: remembers the state before it while a `stale` fault is on. */
function writeLag(ctx: SandboxContext, o: DirObject): () => void {
  if (!ctx.faults.staleOn()) return () => {};
  return lagWrite(o, ctx.clock.now(), ctx.faults.maxStaleMs());
}

export function charge(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  opts: { list?: boolean; write?: boolean; keySelect?: boolean },
): Record<string, string> {
  let cost = opts.write ? 1 : opts.list ? 2 : 1;
  if (!opts.write) {
    if (g.query.has("$select")) cost -= 1;
    const top = Number(g.query.get("$top"));
    if (Number.isFinite(top) && top > 0 && top < 20) cost -= 1;
    if (g.query.has("$expand")) cost += 1;
  }
  const verdict = graphState(ctx).throttle.charge({
    tenantId: c.tenantId,
    appId: c.appid,
    resourceUnits: Math.max(1, cost),
    write: opts.write ?? false,
    keyCredentialSelect: opts.keySelect ?? false,
  });
  if (!verdict.ok)
    throw new GraphError(
      429,
      "TooManyRequests",
      `Too many requests. Retry after ${verdict.retryAfter} seconds.`,
      verdict.headers,
    );
  return verdict.headers;
}

function collectionOf(seg: string): { collection: Collection; appIdKey?: string } | undefined {
  const m = /^(applications|servicePrincipals)(?:\(appId='([^']*)'\))?$/i.exec(seg);
  if (!m) return undefined;
  const collection: Collection =
    (m[1] as string).toLowerCase() === "applications" ? "applications" : "servicePrincipals";
  return m[2] !== undefined ? { collection, appIdKey: m[2] } : { collection };
}

function castOf(seg: string | undefined): string | undefined {
  if (!seg) return undefined;
  const m = CAST.exec(seg);
  if (!m) return undefined;
  const name = (m[1] as string).toLowerCase();
  return {
    agentidentityblueprintprincipal: "agentIdentityBlueprintPrincipal",
    agentidentityblueprint: "agentIdentityBlueprint",
    agentidentity: "agentIdentity",
    application: "application",
    serviceprincipal: "servicePrincipal",
  }[name];
}

function kindMatchesCast(o: DirObject, cast: string | undefined): boolean {
  if (!cast || cast === "application" || cast === "servicePrincipal") return true;
  return o.kind === cast;
}

export function methodNotAllowed(): GraphError {
  return new GraphError(
    405,
    "Request_BadRequest",
    "Specified HTTP method is not allowed for the request uri.",
  );
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function route(ctx: SandboxContext, g: GraphRequest): Promise<SandboxResponse> {
  const [first, ...rest] = g.segments;
  const coll = first ? collectionOf(first) : undefined;
  if (!first || !coll)
    throw new GraphError(400, "BadRequest", `Resource not found for the segment '${first ?? ""}'.`);
  const caller = await authenticate(ctx, g);
  const dir = graphState(ctx).dir;
  const method = g.method.toUpperCase();

  let target: DirObject | undefined;
  let tail: string[];
  if (coll.appIdKey !== undefined) {
    target =
      coll.collection === "applications"
        ? dir.application(caller.tenantId, coll.appIdKey)
        : dir.servicePrincipal(caller.tenantId, coll.appIdKey);
    if (!target) throw notFound(coll.appIdKey);
    tail = rest;
  } else {
    const second = rest[0];
    if (second === undefined) {
      if (method === "GET") return list(ctx, g, caller, coll.collection, undefined);
      if (method === "POST") return create(ctx, g, caller, coll.collection, undefined);
      throw methodNotAllowed();
    }
    if (second.toLowerCase() === "delta" && rest.length === 1) {
      if (method !== "GET") throw methodNotAllowed();
      return delta(ctx, g, caller, coll.collection);
    }
    const cast = castOf(second);
    if (cast && rest.length === 1) {
      if (method === "GET") return list(ctx, g, caller, coll.collection, cast);
      if (method === "POST") return create(ctx, g, caller, coll.collection, cast);
      throw methodNotAllowed();
    }
    if (!GUID.test(second))
      throw new GraphError(400, "Request_BadRequest", `Invalid object identifier '${second}'.`);
    const o = dir.object(caller.tenantId, second);
    const sideOk =
      o &&
      (coll.collection === "applications" ? APPLICATION_KINDS.has(o.kind) : !APPLICATION_KINDS.has(o.kind));
    if (!o || !sideOk) throw notFound(second);
    target = o;
    tail = rest.slice(1);
  }
  const cast = castOf(tail[0]);
  if (cast) {
    if (!kindMatchesCast(target, cast)) throw notFound(target.id);
    tail = tail.slice(1);
  }
  const action = tail[0]?.toLowerCase();
  if (action === undefined) {
    if (method === "GET") return getOne(ctx, g, caller, coll.collection, target, cast);
    if (method === "PATCH") return patch(ctx, g, caller, target);
    if (method === "DELETE") return remove(ctx, g, caller, target);
    throw methodNotAllowed();
  }
  const actionName = action.replace(/^(?:microsoft\.)?graph\./, "");
  if (["addkey", "removekey", "addpassword", "removepassword"].includes(actionName) && tail.length === 1) {
    if (method !== "POST") throw methodNotAllowed();
    return credentialAction(ctx, g, caller, target, actionName);
  }
  if (action === "owners") return owners(ctx, g, caller, target, tail.slice(1));
  if (action === "approleassignments" && coll.collection === "servicePrincipals")
    return appRoleAssignments(ctx, g, caller, target, tail.slice(1));
  throw new GraphError(400, "BadRequest", `Resource not found for the segment '${tail[0]}'.`);
}

function notFound(id: string): GraphError {
  return new GraphError(
    404,
    "Request_ResourceNotFound",
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

function base(ctx: SandboxContext, g: GraphRequest): string {
  return `${ctx.urls.graphBaseUrl.replace(/\/$/, "")}/${g.version}`;
}

export function contextUrl(ctx: SandboxContext, g: GraphRequest, what: string): string {
  return `${base(ctx, g)}/$metadata#${what}`;
}

function selectOf(g: GraphRequest, collection: Collection): string[] | undefined {
  try {
    return parseSelect(collection, g.query.get("$select"));
  } catch (e) {
    if (e instanceof SelectError) throw new GraphError(400, "Request_BadRequest", e.message);
    throw e;
  }
}

export function ok(body: unknown, headers: Record<string, string>, status = 200): SandboxResponse {
  return { status, headers: { "OData-Version": "4.0", ...headers }, body };
}

function candidates(
  tenant: Tenant,
  collection: Collection,
  filterRaw: string | undefined,
  resource: string,
  onlyIds = false,
): { items: DirObject[]; predicate?: (o: DirObject) => boolean } {
  const all = collection === "applications" ? tenant.applications : tenant.servicePrincipals;
  if (!filterRaw) return { items: all };
  let f: ReturnType<typeof parseFilter>;
  try {
    f = parseFilter(filterRaw, resource, onlyIds);
  } catch (e) {
    if (e instanceof FilterError) throw new GraphError(400, "Request_UnsupportedQuery", e.message);
    throw e;
  }
  if (f.keys) {
    const side = collection === "applications" ? tenant.appsByAppId : tenant.spsByAppId;
    const found = new Set<DirObject>();
    for (const id of f.keys.ids) {
      const o = tenant.objects.get(id);
      if (o) found.add(o);
    }
    for (const a of f.keys.appIds) {
      const o = side.get(a);
      if (o) found.add(o);
    }
    return {
      items: [...found]
        .filter((o) =>
          collection === "applications" ? APPLICATION_KINDS.has(o.kind) : !APPLICATION_KINDS.has(o.kind),
        )
        .sort((a, b) => a.seq - b.seq),
      predicate: f.predicate,
    };
  }
  return { items: all, predicate: f.predicate };
}

/** Where a page starts: `$skiptoken` decoded, 0 without one; a token that does not decode is 400. */
export function skipTokenStart(g: GraphRequest): number {
  const skip = g.query.get("$skiptoken");
  if (skip === undefined) return 0;
  const i = decodeToken<{ i?: number }>(skip)?.i;
  if (i === undefined || !Number.isInteger(i) || i < 0)
    throw new GraphError(
      400,
      "Directory_ExpiredPageToken",
      "The specified page token value has expired and can no longer be included in your request.",
    );
  return i;
}

export function pageSize(g: GraphRequest, fallback: number, max = 999): number {
  const top = g.query.get("$top");
  if (top !== undefined) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Invalid page size specified: '${top}'. Must be between 1 and ${max} inclusive.`,
      );
    return n;
  }
  const prefer = /odata\.maxpagesize=(\d+)/i.exec(String(g.headers.prefer ?? ""));
  if (prefer?.[1]) return Math.min(max, Math.max(1, Number(prefer[1])));
  return fallback;
}

/** Rebuilds the request's URL with new query values (nextLink / deltaLink). */
export function link(
  ctx: SandboxContext,
  g: GraphRequest,
  set: Record<string, string | undefined>,
  keep = true,
): string {
  const params: string[] = [];
  if (keep) {
    for (const [k, v] of g.query) {
      if (k in set || k === "$skiptoken" || k === "$deltatoken") continue;
      params.push(`${k}=${encodeURIComponent(v)}`);
    }
  }
  for (const [k, v] of Object.entries(set)) if (v !== undefined) params.push(`${k}=${encodeURIComponent(v)}`);
  return `${base(ctx, g)}${g.rawPath}${params.length ? `?${params.join("&")}` : ""}`;
}

function list(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  collection: Collection,
  cast: string | undefined,
): SandboxResponse {
  if (!canReadCollection(c, collection, cast)) throw denied();
  const select = selectOf(g, collection);
  // "The default and maximum page size is 100 agent identity objects" (agentidentityblueprint-list.md).
  const size = cast === "agentIdentityBlueprint" ? pageSize(g, 100, 100) : pageSize(g, 100);
  const keySelect = collection === "applications" && (select?.includes("keyCredentials") ?? false);
  const headers = charge(ctx, g, c, { list: true, keySelect });
  const resource = collection === "applications" ? "Application" : "ServicePrincipal";
  const { items, predicate } = candidates(c.tenant, collection, g.query.get("$filter"), resource);
  const start = skipTokenStart(g);
  const value: Record<string, unknown>[] = [];
  const seen = readLag(ctx, g);
  let i = start;
  for (; i < items.length && value.length < size; i++) {
    const o = seen(items[i] as DirObject);
    if (o.deleted || !kindMatchesCast(o, cast)) continue;
    if (predicate && !predicate(o)) continue;
    value.push(objectJson(o, select, { list: true }));
  }
  // Is anything left? Look ahead for one more match so the last page has no nextLink.
  let more = false;
  for (let j = i; j < items.length; j++) {
    const o = items[j] as DirObject;
    if (o.deleted || !kindMatchesCast(o, cast) || (predicate && !predicate(o))) continue;
    more = true;
    break;
  }
  const castPath =
    cast && cast !== "application" && cast !== "servicePrincipal" ? `/microsoft.graph.${cast}` : "";
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(ctx, g, `${collection}${castPath}${select ? `(${select.join(",")})` : ""}`),
  };
  if (g.query.get("$count") === "true") {
    if (String(g.headers.consistencylevel ?? "").toLowerCase() !== "eventual")
      throw new GraphError(400, "Request_BadRequest", "$count is not currently supported.");
    let n = 0;
    for (const o of items) if (!o.deleted && kindMatchesCast(o, cast) && (!predicate || predicate(o))) n++;
    body["@odata.count"] = n;
  }
  if (more) body["@odata.nextLink"] = link(ctx, g, { $skiptoken: encodeToken({ i }) });
  body.value = value;
  return ok(body, headers);
}

interface DeltaToken {
  /** Changes strictly above this sequence number (−1: initial round, every object). */
  f: number;
  /** Upper bound of this round. */
  m?: number;
  /** Cursor into the collection. */
  i?: number;
  s?: string;
  q?: string;
  /** When the delta link was issued (virtual clock, ms). */
  t?: number;
}

/**
 * How long a delta link may be followed. Directory objects' delta tokens are kept for 7 days;
 * an older one gets a 4xx with code `syncStateNotFound` and the client must start a new
 * enumeration (learn.microsoft.com/graph/delta-query-overview, "Token duration" and "Synchronization
 * reset"). The sandbox answers 400, the strictest of the 40X family it names.
 */
export const DELTA_LINK_LIFETIME_MS = 7 * 86_400_000;

/**
 * The properties of `o` a delta round since `f` returns: all of them for an object created (or
 * deleted) in the round, otherwise only those changed since `f` — "updated instances are
 * represented by their id with at least their updated properties" (delta-query-overview.md); the
 * sandbox returns exactly those, the strictest reading.
 */
function changedSince(o: DirObject, f: number, select: string[] | undefined, all: string[]): string[] {
  if (f < 0 || (o.allSeq ?? 0) > f) return select ?? all;
  const changed = Object.entries(o.propSeq ?? {})
    .filter(([, seq]) => seq > f)
    .map(([p]) => p);
  return (select ?? all).filter((p) => changed.includes(p));
}

/**
 * `/delta`: the initial round returns every object; its last page carries `@odata.deltaLink`,
 * whose token remembers the tenant's change sequence; a later call returns only objects changed
 * (or deleted: `@removed`) since, each with its id and the properties that changed.
 * `$select`/`$filter` (only `id eq`) are given on the first request and carried in the tokens
 * (application-delta.md; research graph-entra.md §2.6).
 */
function delta(ctx: SandboxContext, g: GraphRequest, c: Caller, collection: Collection): SandboxResponse {
  if (!canReadCollection(c, collection)) throw denied();
  let tok: DeltaToken;
  const skip = g.query.get("$skiptoken");
  const dtok = g.query.get("$deltatoken");
  if (skip !== undefined || dtok !== undefined) {
    const t = decodeToken<DeltaToken>((skip ?? dtok) as string);
    if (!t || typeof t.f !== "number")
      throw new GraphError(
        400,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
      );
    if (dtok !== undefined && typeof t.t === "number" && ctx.clock.now() - t.t > DELTA_LINK_LIFETIME_MS)
      throw new GraphError(
        400,
        "syncStateNotFound",
        "The delta token has expired: its sync state is no longer kept. Start a new enumeration without a delta token.",
      );
    tok =
      dtok !== undefined
        ? { f: t.f, m: c.tenant.seq, i: 0, ...(t.s ? { s: t.s } : {}), ...(t.q ? { q: t.q } : {}) }
        : t;
  } else {
    const s = g.query.get("$select");
    const q = g.query.get("$filter");
    tok = { f: -1, m: c.tenant.seq, i: 0, ...(s ? { s } : {}), ...(q ? { q } : {}) };
  }
  const select = (() => {
    try {
      return parseSelect(collection, tok.s);
    } catch (e) {
      if (e instanceof SelectError) throw new GraphError(400, "Request_BadRequest", e.message);
      throw e;
    }
  })();
  const headers = charge(ctx, g, c, {});
  const resource = collection === "applications" ? "Application" : "ServicePrincipal";
  const { items, predicate } = candidates(c.tenant, collection, tok.q, resource, true);
  const size = pageSize({ ...g, query: new Map() }, 100);
  const mark = tok.m ?? c.tenant.seq;
  const value: Record<string, unknown>[] = [];
  const seen = readLag(ctx, g);
  let i = tok.i ?? 0;
  const include = (o: DirObject) =>
    (!predicate || predicate(o)) && (tok.f < 0 ? !o.deleted : o.seq > tok.f && o.seq <= mark);
  for (; i < items.length && value.length < size; i++) {
    const live = items[i] as DirObject;
    if (!include(live)) continue;
    const o = seen(live);
    value.push(
      o.deleted
        ? { id: o.id, "@removed": { reason: "changed" } }
        : objectJson(o, changedSince(live, tok.f, select, defaultPropsOf(o)), { forceId: true, list: true }),
    );
  }
  let more = false;
  for (let j = i; j < items.length; j++) {
    if (include(items[j] as DirObject)) {
      more = true;
      break;
    }
  }
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(ctx, g, `${collection}${select ? `(${select.join(",")})` : ""}`),
  };
  if (more)
    body["@odata.nextLink"] = link(ctx, g, { $skiptoken: encodeToken({ ...tok, m: mark, i }) }, false);
  else
    body["@odata.deltaLink"] = link(
      ctx,
      g,
      {
        $deltatoken: encodeToken({
          f: mark,
          t: ctx.clock.now(),
          ...(tok.s ? { s: tok.s } : {}),
          ...(tok.q ? { q: tok.q } : {}),
        }),
      },
      false,
    );
  body.value = value;
  const prefer = /odata\.maxpagesize=(\d+)/i.exec(String(g.headers.prefer ?? ""));
  return ok(body, { ...headers, ...(prefer ? { "Preference-Applied": `odata.maxpagesize=${size}` } : {}) });
}

function getOne(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  collection: Collection,
  o: DirObject,
  cast: string | undefined,
): SandboxResponse {
  if (!canRead(c, o)) throw denied();
  const select = selectOf(g, collection);
  const headers = charge(ctx, g, c, {});
  const seen = readLag(ctx, g)(o);
  if (seen.deleted) throw notFound(o.id);
  const castPath =
    cast && cast !== "application" && cast !== "servicePrincipal" ? `/microsoft.graph.${cast}` : "";
  return ok(
    {
      "@odata.context": contextUrl(
        ctx,
        g,
        `${collection}${castPath}${select ? `(${select.join(",")})` : ""}/$entity`,
      ),
      ...objectJson(seen, select),
    },
    headers,
  );
}

function requireJson(g: GraphRequest): Record<string, unknown> {
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

const PATCHABLE = new Set([
  "displayName",
  "keyCredentials",
  "description",
  "notes",
  "tags",
  "identifierUris",
]);

function patch(ctx: SandboxContext, g: GraphRequest, c: Caller, o: DirObject): SandboxResponse {
  const body = requireJson(g);
  if (!canWrite(c, o, "keyCredentials" in body)) throw denied();
  const headers = charge(ctx, g, c, { write: true });
  const dir = graphState(ctx).dir;
  for (const key of Object.keys(body)) {
    if (key.startsWith("@odata.")) continue;
    if (key === "passwordCredentials")
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Using PATCH to set passwordCredential is not supported. Use addPassword and removePassword actions.",
      );
    if (!PATCHABLE.has(key))
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Property '${key}' is read-only or not supported by the sandbox.`,
      );
  }
  let keyCredentials: DirObject["keyCredentials"] | undefined;
  if ("keyCredentials" in body) {
    if (o.kind === "agentIdentity")
      throw new GraphError(
        400,
        "PropertyNotCompatibleWithAgentIdentity",
        "Agent identities hold no credentials of their own; set keyCredentials on the agent identity blueprint.",
      );
    keyCredentials = parseKeyCredentials(dir, o, body.keyCredentials);
    // Only credentials the PATCH adds are checked; kept ones were allowed when they were added.
    for (const k of keyCredentials)
      if (!o.keyCredentials.some((x) => x.keyId === k.keyId))
        enforceKeyCredential(ctx, o, k.startDateTime, k.endDateTime);
  }
  const replicated = writeLag(ctx, o);
  if (keyCredentials) o.keyCredentials = keyCredentials;
  if (typeof body.displayName === "string") o.displayName = body.displayName;
  dir.touch(
    o,
    Object.keys(body).filter((k) => !k.startsWith("@odata.")),
  );
  replicated();
  return { status: 204, headers: { ...headers } };
}

/**
 * PATCH replaces the whole collection (research graph-entra.md §2.2). An entry with no `key` but
 * the `keyId` of a credential the object already holds keeps that credential (reads without
 * `$select=keyCredentials` return `key: null`, so a read-modify-write sends existing entries that
 * way); any other entry must carry the certificate.
 */
function parseKeyCredentials(dir: Directory, o: DirObject, raw: unknown) {
  if (!Array.isArray(raw))
    throw new GraphError(
      400,
      "Request_BadRequest",
      "Invalid value specified for property 'keyCredentials' of resource 'Application'.",
    );
  const out = [];
  const seen = new Set<string>();
  for (const item of raw) {
    if (typeof item !== "object" || item === null)
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'keyCredentials' of resource 'Application'.",
      );
    const k = item as Record<string, unknown>;
    const keyId = typeof k.keyId === "string" ? k.keyId.toLowerCase() : undefined;
    if (keyId !== undefined && !GUID.test(keyId))
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Invalid value specified for property 'keyId' of resource 'KeyCredential'.`,
      );
    if (keyId && seen.has(keyId))
      throw new GraphError(400, "Request_BadRequest", `Duplicate keyId '${keyId}' in keyCredentials.`);
    if (k.key === null || k.key === undefined) {
      const existing = keyId ? o.keyCredentials.find((x) => x.keyId === keyId) : undefined;
      if (!existing)
        throw new GraphError(
          400,
          "Request_BadRequest",
          "Invalid value specified for property 'key' of resource 'KeyCredential'.",
        );
      seen.add(existing.keyId);
      out.push({ ...existing, ...(typeof k.displayName === "string" ? { displayName: k.displayName } : {}) });
      continue;
    }
    if (k.type !== undefined && k.type !== "AsymmetricX509Cert")
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Key credential type '${String(k.type)}' is not supported by the sandbox; use AsymmetricX509Cert.`,
      );
    if (k.usage !== undefined && k.usage !== "Verify")
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'usage' of resource 'KeyCredential': AsymmetricX509Cert keys have usage Verify.",
      );
    const der = certificateBytes(k.key);
    const kc = dir.makeKeyCredential({
      certificateDer: der,
      ...(typeof k.displayName === "string" ? { displayName: k.displayName } : {}),
      ...(typeof k.startDateTime === "string"
        ? { startDateTime: checkDate(k.startDateTime, "startDateTime") }
        : {}),
      ...(typeof k.endDateTime === "string" ? { endDateTime: checkDate(k.endDateTime, "endDateTime") } : {}),
      ...(keyId ? { keyId } : {}),
      ...(typeof k.customKeyIdentifier === "string" ? { customKeyIdentifier: k.customKeyIdentifier } : {}),
    });
    seen.add(kc.keyId);
    out.push(kc);
  }
  return out;
}

function checkDate(s: string, name: string): string {
  if (Number.isNaN(Date.parse(s)))
    throw new GraphError(
      400,
      "Request_BadRequest",
      `Invalid value specified for property '${name}' of resource 'KeyCredential'.`,
    );
  return s;
}

function certificateBytes(raw: unknown): Uint8Array {
  if (typeof raw !== "string" || !/^[A-Za-z0-9+/=\s]+$/.test(raw))
    throw new GraphError(
      400,
      "Request_BadRequest",
      "Invalid value specified for property 'key' of resource 'KeyCredential'.",
    );
  const der = new Uint8Array(Buffer.from(raw, "base64"));
  try {
    certInfo(der);
  } catch {
    throw new GraphError(
      400,
      "Request_BadRequest",
      "Invalid certificate: the key credential's key is not a DER-encoded X.509 certificate.",
    );
  }
  return der;
}

function remove(ctx: SandboxContext, g: GraphRequest, c: Caller, o: DirObject): SandboxResponse {
  if (!canWrite(c, o)) throw denied();
  const headers = charge(ctx, g, c, { write: true });
  const replicated = writeLag(ctx, o);
  graphState(ctx).dir.delete(c.tenantId, o.id);
  replicated();
  return { status: 204, headers };
}

function create(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  collection: Collection,
  cast: string | undefined,
): SandboxResponse {
  const body = requireJson(g);
  const dir = graphState(ctx).dir;
  const typeHint = String(body["@odata.type"] ?? "").toLowerCase();
  if (collection === "applications") {
    const blueprint = cast === "agentIdentityBlueprint" || typeHint.endsWith("agentidentityblueprint");
    const allowed =
      hasAny(c, ["Application.ReadWrite.All", "Application.ReadWrite.OwnedBy"]) ||
      (blueprint && hasAny(c, ["AgentIdentityBlueprint.Create", "AgentIdentityBlueprint.ReadWrite.All"]));
    if (!allowed) throw denied();
    if (typeof body.displayName !== "string" || !body.displayName)
      throw new GraphError(400, "Request_BadRequest", "Property 'displayName' is required.");
    const headers = charge(ctx, g, c, { write: true });
    const o = dir.createApplicationObject(c.tenantId, {
      displayName: body.displayName,
      kind: blueprint ? "agentIdentityBlueprint" : "application",
      withServicePrincipal: false,
    });
    // The creating principal becomes an owner (Application.ReadWrite.OwnedBy semantics).
    dir.addOwner(c.tenantId, o.id, c.oid);
    if (body.keyCredentials !== undefined) {
      const next = parseKeyCredentials(dir, o, body.keyCredentials);
      for (const k of next) enforceKeyCredential(ctx, o, k.startDateTime, k.endDateTime);
      o.keyCredentials = next;
    }
    const castPath = blueprint ? "/microsoft.graph.agentIdentityBlueprint" : "";
    return ok(
      {
        "@odata.context": contextUrl(ctx, g, `applications${castPath}/$entity`),
        ...objectJson(o, undefined),
      },
      {
        ...headers,
        Location: `${base(ctx, g)}/applications/${o.id}`,
      },
      201,
    );
  }
  const agent = cast === "agentIdentity" || typeHint.endsWith("agentidentity");
  const headers = () => charge(ctx, g, c, { write: true });
  if (agent) {
    const bp = String(body.agentIdentityBlueprintId ?? "").toLowerCase();
    const blueprint = dir.application(c.tenantId, bp);
    if (blueprint?.kind !== "agentIdentityBlueprint")
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Property 'agentIdentityBlueprintId' must name an agent identity blueprint's appId.",
      );
    if (c.appid !== bp && !hasAny(c, ["AgentIdentity.ReadWrite.All", "AgentIdentity.Create.All"]))
      throw denied();
    const h = headers();
    const id = randomUUID();
    const o = dir.createServicePrincipalObject(c.tenantId, {
      appId: id,
      id,
      displayName: typeof body.displayName === "string" ? body.displayName : id,
      kind: "agentIdentity",
      blueprintAppId: bp,
    });
    return ok(
      {
        "@odata.context": contextUrl(ctx, g, "servicePrincipals/microsoft.graph.agentIdentity/$entity"),
        ...objectJson(o, undefined),
      },
      h,
      201,
    );
  }
  if (!hasAny(c, ["Application.ReadWrite.All", "Application.ReadWrite.OwnedBy"])) throw denied();
  const appId = String(body.appId ?? "").toLowerCase();
  const app = dir.application(c.tenantId, appId);
  if (!app)
    throw new GraphError(
      400,
      "Request_BadRequest",
      `The appId '${appId}' of the service principal does not reference a valid application object.`,
    );
  if (
    c.roles.has("Application.ReadWrite.OwnedBy") &&
    !c.roles.has("Application.ReadWrite.All") &&
    !app.owners.includes(c.oid)
  )
    throw denied();
  const h = headers();
  const o = dir.createServicePrincipalObject(c.tenantId, {
    appId,
    kind:
      cast === "agentIdentityBlueprintPrincipal" || app.kind === "agentIdentityBlueprint"
        ? "agentIdentityBlueprintPrincipal"
        : "servicePrincipal",
  });
  return ok(
    { "@odata.context": contextUrl(ctx, g, "servicePrincipals/$entity"), ...objectJson(o, undefined) },
    h,
    201,
  );
}

async function credentialAction(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  o: DirObject,
  action: string,
): Promise<SandboxResponse> {
  const body = requireJson(g);
  const dir = graphState(ctx).dir;
  if (o.kind === "agentIdentity")
    throw new GraphError(
      400,
      "PropertyNotCompatibleWithAgentIdentity",
      "Agent identities hold no credentials of their own; manage credentials on the agent identity blueprint.",
    );
  if (action === "addkey" || action === "removekey") {
    if (!canRollKeys(c, o)) throw denied();
    const headers = charge(ctx, g, c, { write: true });
    checkProof(ctx.clock, o, body.proof);
    if (action === "addkey") {
      const kcRaw = body.keyCredential;
      if (typeof kcRaw !== "object" || kcRaw === null)
        throw new GraphError(400, "Request_BadRequest", "Property 'keyCredential' is required.");
      const k = kcRaw as Record<string, unknown>;
      if (k.type !== "AsymmetricX509Cert" || k.usage !== "Verify")
        throw new GraphError(
          400,
          "Request_BadRequest",
          "keyCredential: type, usage and key are required; the sandbox supports type AsymmetricX509Cert with usage Verify.",
        );
      const der = certificateBytes(k.key);
      const thumb = certInfo(der).sha1Hex;
      if (o.keyCredentials.some((x) => certInfo(x.key).sha1Hex === thumb))
        throw new GraphError(
          400,
          "Request_BadRequest",
          "A key credential with the same certificate already exists on this object.",
        );
      // customKeyIdentifier is kept as the caller sent it: Graph takes any value there and
      // defaults it to the certificate's thumbprint only when it is left out (keycredential.md).
      const kc = dir.makeKeyCredential({
        certificateDer: der,
        ...(typeof k.displayName === "string" ? { displayName: k.displayName } : {}),
        ...(typeof k.customKeyIdentifier === "string" ? { customKeyIdentifier: k.customKeyIdentifier } : {}),
      });
      enforceKeyCredential(ctx, o, kc.startDateTime, kc.endDateTime);
      const replicated = writeLag(ctx, o);
      o.keyCredentials.push(kc);
      dir.touch(o, ["keyCredentials"]);
      replicated();
      return ok(
        {
          "@odata.context": contextUrl(ctx, g, "microsoft.graph.keyCredential"),
          ...keyCredentialJson(kc, false),
        },
        headers,
      );
    }
    const keyId = String(body.keyId ?? "").toLowerCase();
    const idx = o.keyCredentials.findIndex((x) => x.keyId === keyId);
    if (idx < 0)
      throw new GraphError(
        404,
        "Request_ResourceNotFound",
        `No key credential with keyId '${keyId}' exists on object '${o.id}'.`,
      );
    const replicated = writeLag(ctx, o);
    o.keyCredentials.splice(idx, 1);
    dir.touch(o, ["keyCredentials"]);
    replicated();
    return { status: 204, headers };
  }
  if (!canWrite(c, o, true)) throw denied();
  const headers = charge(ctx, g, c, { write: true });
  if (action === "addpassword") {
    const pcRaw = (body.passwordCredential ?? {}) as Record<string, unknown>;
    const start = typeof pcRaw.startDateTime === "string" ? pcRaw.startDateTime : graphDate(ctx.clock.now());
    // endDateTime defaults to startDateTime + 2 years (application-addpassword.md).
    const end =
      typeof pcRaw.endDateTime === "string"
        ? pcRaw.endDateTime
        : graphDate(new Date(Date.parse(start) + 2 * 365 * 24 * 3600 * 1000));
    if (Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end)))
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.",
      );
    enforcePasswordCredential(ctx, o, start, end);
    const replicated = writeLag(ctx, o);
    const pc = dir.addPasswordCredential(c.tenantId, o.id, {
      ...(typeof pcRaw.displayName === "string" ? { displayName: pcRaw.displayName } : {}),
      startDateTime: start,
      endDateTime: end,
    });
    replicated();
    return ok(
      {
        "@odata.context": contextUrl(ctx, g, "microsoft.graph.passwordCredential"),
        ...passwordCredentialJson(pc, true),
      },
      headers,
    );
  }
  const keyId = String(body.keyId ?? "").toLowerCase();
  const idx = o.passwordCredentials.findIndex((x) => x.keyId === keyId);
  if (idx < 0)
    throw new GraphError(
      404,
      "Request_ResourceNotFound",
      `No password credential with keyId '${keyId}' exists on object '${o.id}'.`,
    );
  const replicated = writeLag(ctx, o);
  o.passwordCredentials.splice(idx, 1);
  dir.touch(o, ["passwordCredentials"]);
  replicated();
  return { status: 204, headers };
}

function owners(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  o: DirObject,
  tail: string[],
): SandboxResponse {
  const dir = graphState(ctx).dir;
  const method = g.method.toUpperCase();
  if (tail.length === 0) {
    if (method !== "GET") throw methodNotAllowed();
    if (!canRead(c, o) && !o.owners.includes(c.oid)) throw denied();
    const headers = charge(ctx, g, c, {});
    const value = o.owners.map((id) => {
      const owner = dir.object(c.tenantId, id);
      if (!owner) return { "@odata.type": "#microsoft.graph.user", id };
      return {
        "@odata.type": ODATA_TYPES[owner.kind] ?? "#microsoft.graph.servicePrincipal",
        ...objectJson(
          owner,
          ["id", "appId", "displayName", "servicePrincipalType"].filter((p) =>
            APPLICATION_KINDS.has(owner.kind) ? p !== "servicePrincipalType" : true,
          ),
        ),
      };
    });
    return ok({ "@odata.context": contextUrl(ctx, g, "directoryObjects"), value }, headers);
  }
  if (tail.length === 1 && tail[0] === "$ref" && method === "POST") {
    const body = requireJson(g);
    if (!canWrite(c, o)) throw denied();
    const ref = String(body["@odata.id"] ?? "");
    const id = /([0-9a-f-]{36})\/?$/i.exec(ref)?.[1];
    if (!id)
      throw new GraphError(
        400,
        "Request_BadRequest",
        "The '@odata.id' of the reference is missing or invalid.",
      );
    const headers = charge(ctx, g, c, { write: true });
    if (!dir.object(c.tenantId, id)) throw notFound(id);
    if (o.owners.includes(id.toLowerCase()))
      throw new GraphError(
        400,
        "Request_BadRequest",
        "One or more added object references already exist for the following modified properties: 'owners'.",
      );
    dir.addOwner(c.tenantId, o.id, id);
    return { status: 204, headers };
  }
  if (tail.length === 2 && tail[1] === "$ref" && method === "DELETE") {
    if (!canWrite(c, o)) throw denied();
    const headers = charge(ctx, g, c, { write: true });
    if (!dir.removeOwner(c.tenantId, o.id, tail[0] as string)) throw notFound(tail[0] as string);
    return { status: 204, headers };
  }
  throw methodNotAllowed();
}
