/**
 * Listing a collection and following it: `$top` (and `Prefer: odata.maxpagesize`), `$skiptoken`
 * offsets and absolute `@odata.nextLink`s, `$select`, `$filter`, `$count`, and `/delta` rounds
 * with their `@odata.deltaLink` (application-list.md, application-delta.md,
 * learn.microsoft.com/graph/paging, learn.microsoft.com/graph/delta-query-overview; research
 * graph-entra.md §2.6). The paging helpers here serve every list the sandbox's Graph answers.
 */
import type { SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import { type Caller, canReadCollection, charge, denied } from "./auth.js";
import { readLag } from "./consistency.js";
import type { DirObject, Tenant } from "./directory.js";
import { GraphError } from "./graph-error.js";
import {
  type Collection,
  decodeToken,
  defaultPropsOf,
  encodeToken,
  FilterError,
  objectJson,
  parseFilter,
} from "./model.js";
import {
  base,
  castSegment,
  contextUrl,
  type GraphRequest,
  inCollection,
  kindMatchesCast,
  ok,
  selectOf,
} from "./odata.js";
import type { CollectionRoute } from "./routes.js";

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
      items: [...found].filter((o) => inCollection(o, collection)).sort((a, b) => a.seq - b.seq),
      predicate: f.predicate,
    };
  }
  return { items: all, predicate: f.predicate };
}

function expiredPageToken(): GraphError {
  return new GraphError(
    400,
    "Directory_ExpiredPageToken",
    "The specified page token value has expired and can no longer be included in your request.",
  );
}

/** The refusal of a `$skiptoken` on the report and policy lists. */
export function badSkipToken(): GraphError {
  return new GraphError(400, "BadRequest", "The $skiptoken is not valid.");
}

/**
 * Where a page starts: `$skiptoken` decoded, 0 without one; a token that does not decode is 400
 * (`invalid`: the error the route answers with; directory objects' by default).
 */
export function skipTokenStart(g: GraphRequest, invalid: () => GraphError = expiredPageToken): number {
  const skip = g.query.get("$skiptoken");
  if (skip === undefined) return 0;
  const i = decodeToken<{ i?: number }>(skip)?.i;
  if (i === undefined || !Number.isInteger(i) || i < 0) throw invalid();
  return i;
}

/** `$top`: `fallback` without one; outside 1…`max` a 400 with `code` (the code the route answers with). */
export function topOf(g: GraphRequest, fallback: number, max = 999, code = "Request_BadRequest"): number {
  const top = g.query.get("$top");
  if (top === undefined) return fallback;
  const n = Number(top);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new GraphError(
      400,
      code,
      `Invalid page size specified: '${top}'. Must be between 1 and ${max} inclusive.`,
    );
  return n;
}

/** A directory page's size: `$top`, else `Prefer: odata.maxpagesize`, else `fallback`. */
export function pageSize(g: GraphRequest, fallback: number, max = 999): number {
  if (g.query.has("$top")) return topOf(g, fallback, max);
  const prefer = /odata\.maxpagesize=(\d+)/i.exec(String(g.headers.prefer ?? ""));
  if (prefer?.[1]) return Math.min(max, Math.max(1, Number(prefer[1])));
  return fallback;
}

/**
 * Rebuilds the request's URL with new query values (nextLink / deltaLink); `path` (after the
 * version) is the request's own unless given.
 */
export function link(
  ctx: SandboxContext,
  g: GraphRequest,
  set: Record<string, string | undefined>,
  keep = true,
  path = g.rawPath,
): string {
  const params: string[] = [];
  if (keep) {
    for (const [k, v] of g.query) {
      if (k in set || k === "$skiptoken" || k === "$deltatoken") continue;
      params.push(`${k}=${encodeURIComponent(v)}`);
    }
  }
  for (const [k, v] of Object.entries(set)) if (v !== undefined) params.push(`${k}=${encodeURIComponent(v)}`);
  return `${base(ctx, g)}${path}${params.length ? `?${params.join("&")}` : ""}`;
}

/**
 * One page of a list held in memory: `size` items from `start`, and while more remain the
 * nextLink (the request's query with the next `$skiptoken`; `path` as for `link`).
 */
export function offsetPage<T>(
  ctx: SandboxContext,
  g: GraphRequest,
  all: readonly T[],
  start: number,
  size: number,
  path?: string,
): { items: T[]; nextLink?: string } {
  const items = all.slice(start, start + size);
  if (start + size >= all.length) return { items };
  return { items, nextLink: link(ctx, g, { $skiptoken: encodeToken({ i: start + size }) }, true, path) };
}

/** Refuses the query options the sandbox does not evaluate on `what` (400 Request_UnsupportedQuery). */
export function refuseQueries(g: GraphRequest, what: string): void {
  for (const q of ["$filter", "$orderby", "$search", "$expand"])
    if (g.query.has(q))
      throw new GraphError(400, "Request_UnsupportedQuery", `The sandbox does not evaluate ${q} on ${what}.`);
}

export const list: CollectionRoute = (ctx, g, c, collection, cast) => {
  if (!canReadCollection(c, cast)) throw denied();
  const select = selectOf(collection, g.query.get("$select"));
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
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(
      ctx,
      g,
      `${collection}${castSegment(cast)}${select ? `(${select.join(",")})` : ""}`,
    ),
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
};

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
export function delta(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  collection: Collection,
): SandboxResponse {
  if (!canReadCollection(c)) throw denied();
  let tok: DeltaToken;
  const skip = g.query.get("$skiptoken");
  const dtok = g.query.get("$deltatoken");
  if (skip !== undefined || dtok !== undefined) {
    const t = decodeToken<DeltaToken>((skip ?? dtok) as string);
    if (!t || typeof t.f !== "number") throw expiredPageToken();
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
  const select = selectOf(collection, tok.s);
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
