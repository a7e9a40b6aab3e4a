/**
 * A small route table for the sandbox: handlers validate, call a store, then shape a response.
 * Each service contributes `Route`s; the server matches them in order and answers 404 in the
 * owning service's error shape when nothing matches.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { gunzipSync } from "node:zlib";

/** The services the sandbox speaks for; faults and throttling are set per service. */
export type ServiceName = "entra" | "graph" | "keyvault" | "logs" | "eventgrid" | "control" | "msi";

export interface SandboxRequest {
  method: string;
  /** Path without the query string, percent-decoded per segment by the route matcher. */
  path: string;
  url: URL;
  /** Query parameters with keys lower-cased and percent-decoded (`api%2Dversion` → `api-version`). */
  query: Map<string, string>;
  headers: IncomingHttpHeaders;
  /** Raw body, gunzipped when `Content-Encoding: gzip`. */
  body: Buffer;
  params: Record<string, string>;
  requestId: string;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Send `body` as-is (a string or Buffer) rather than as JSON. */
  raw?: boolean;
}

export type Handler = (req: SandboxRequest) => SandboxResponse | Promise<SandboxResponse>;

export interface Route {
  service: ServiceName;
  method: string | string[];
  /** A pattern like `/certificates/:name/:version?` or a RegExp with named groups. */
  path: string | RegExp;
  handler: Handler;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  methods: Set<string>;
}

function compile(route: Route): CompiledRoute {
  let regex: RegExp;
  if (route.path instanceof RegExp) {
    regex = route.path;
  } else {
    const parts = route.path
      .split("/")
      .filter((p) => p.length > 0)
      .map((p) => {
        if (p.startsWith(":")) {
          const optional = p.endsWith("?");
          const name = p.slice(1, optional ? -1 : undefined);
          return optional ? `(?:/(?<${name}>[^/]+))?` : `/(?<${name}>[^/]+)`;
        }
        return `/${p.replace(/[.*+?^${}()|[\]\\$]/g, "\\$&")}`;
      });
    regex = new RegExp(`^${parts.join("")}/?$`, "i");
  }
  const methods = new Set(
    (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toUpperCase()),
  );
  return { ...route, regex, methods };
}

export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(...routes: Route[]): void {
    for (const r of routes) this.routes.push(compile(r));
  }

  /** Finds the route for a request; `methodMismatch` when the path matched but the verb did not. */
  match(
    method: string,
    path: string,
  ): { route: CompiledRoute; params: Record<string, string> } | { methodMismatch: ServiceName } | undefined {
    let mismatch: ServiceName | undefined;
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      if (!route.methods.has(method.toUpperCase())) {
        mismatch ??= route.service;
        continue;
      }
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) {
        if (v !== undefined) params[k] = safeDecode(v);
      }
      return { route, params };
    }
    return mismatch ? { methodMismatch: mismatch } : undefined;
  }
}

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Reads query parameters the way the services do: keys case-insensitive and percent-decoded. */
export function parseQuery(url: URL): Map<string, string> {
  const q = new Map<string, string>();
  const search = url.search.startsWith("?") ? url.search.slice(1) : url.search;
  for (const pair of search.split("&")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? "" : pair.slice(eq + 1);
    q.set(safeDecode(k.replace(/\+/g, " ")).toLowerCase(), safeDecode(v.replace(/\+/g, " ")));
  }
  return q;
}

export function decodeBody(raw: Buffer, headers: IncomingHttpHeaders): Buffer {
  const enc = String(headers["content-encoding"] ?? "").toLowerCase();
  if (enc === "gzip" && raw.length > 0) return gunzipSync(raw);
  return raw;
}

/** Parses a JSON body; `undefined` for an empty body; throws `BodyError` for malformed JSON. */
export function jsonBody<T = unknown>(req: SandboxRequest): T | undefined {
  if (req.body.length === 0) return undefined;
  try {
    return JSON.parse(req.body.toString("utf8")) as T;
  } catch (e) {
    throw new BodyError(`Malformed JSON: ${(e as Error).message}`);
  }
}

/** Parses an `application/x-www-form-urlencoded` body. */
export function formBody(req: SandboxRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(req.body.toString("utf8"))) out.set(k, v);
  return out;
}

export class BodyError extends Error {
  override name = "BodyError";
}

export function newRequestId(): string {
  return randomUUID();
}

/** Extracts the bearer token of a request, if any. */
export function bearerToken(req: SandboxRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}
