/**
 * The sandbox's control API under /_sandbox: no authentication, sandbox only. Documented route by
 * route in docs/sandbox.md. Bad bodies get 400 with a one-line message.
 */
import { serviceError } from "../errors.js";
import { type EventGridService, SubscriptionValidationError } from "../eventgrid/index.js";
import { type FaultRule, FaultSpecError, parseFaultSpec } from "../faults.js";
import type { Route, SandboxRequest, SandboxResponse } from "../http.js";
import { parseSeedName, type SeedName, SeedNameError } from "../seeds.js";
import type { SandboxContext } from "../types.js";

const MS = { days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1000, ms: 1 } as const;

const SETTINGS = ["timeScale", "duplicate", "shuffle", "responseTimeoutMs", "shuffleWindowMs", "seed"];

class ControlError extends Error {
  constructor(
    message: string,
    readonly status = 400,
    readonly code = "BadRequest",
  ) {
    super(message);
  }
}

export function controlRoutes(
  ctx: SandboxContext,
  deps: { eventGrid: EventGridService; reseed: (seed: SeedName) => Promise<void> },
): Route[] {
  const { eventGrid } = deps;
  const route = (method: string, path: string, handler: (req: SandboxRequest) => unknown): Route => ({
    service: "control",
    method,
    path,
    handler: async (req) => {
      try {
        const out = await handler(req);
        return isResponse(out) ? out : { status: 200, body: out };
      } catch (e) {
        if (e instanceof ControlError)
          return serviceError("control", e.status, e.code, e.message, req.requestId);
        if (
          e instanceof SubscriptionValidationError ||
          e instanceof FaultSpecError ||
          e instanceof SeedNameError ||
          e instanceof RangeError
        ) {
          return serviceError("control", 400, "BadRequest", oneLine(e.message), req.requestId);
        }
        throw e;
      }
    },
  });

  return [
    route("GET", "/_sandbox", () => ({
      urls: ctx.urls,
      routes: [
        "POST /_sandbox/seed",
        "POST /_sandbox/reset",
        "GET /_sandbox/tenant",
        "GET /_sandbox/clock",
        "POST /_sandbox/clock/advance",
        "GET|POST|DELETE /_sandbox/eventgrid/subscriptions",
        "GET|PATCH|DELETE /_sandbox/eventgrid/subscriptions/{name}",
        "POST /_sandbox/eventgrid/flush",
        "GET /_sandbox/eventgrid/deliveries",
        "GET|PUT /_sandbox/eventgrid/settings",
        "GET /_sandbox/eventgrid/validate",
        "GET|PUT|DELETE /_sandbox/faults",
        "GET|DELETE /_sandbox/logs",
        "PATCH|DELETE /_sandbox/logs/{index}",
        "GET /_sandbox/signins",
      ],
    })),

    // ------------------------------------------------------------ tenant
    route("POST", "/_sandbox/seed", async (req) => {
      const body = objectBody(req);
      if (typeof body.seed !== "string")
        throw new ControlError('body must be {"seed": "empty" | "demo" | "scale:N"}');
      const seed = parseSeedName(body.seed);
      const started = Date.now();
      await deps.reseed(seed);
      return { seed, tenant: tenantSummary(ctx), elapsedMs: Date.now() - started };
    }),
    route("POST", "/_sandbox/reset", async () => {
      eventGrid.reset();
      ctx.faults.clear();
      await deps.reseed("empty");
      return { seed: "empty", tenant: tenantSummary(ctx) };
    }),
    route("GET", "/_sandbox/tenant", () => tenantSummary(ctx)),

    // ------------------------------------------------------------ clock
    route("GET", "/_sandbox/clock", () => clockView(ctx)),
    route("POST", "/_sandbox/clock/advance", async (req) => {
      const body = objectBody(req);
      let total = 0;
      let any = false;
      for (const [key, value] of Object.entries(body)) {
        if (!(key in MS)) {
          throw new ControlError(
            `unknown field "${key}": advance takes days, hours, minutes, seconds and/or ms`,
          );
        }
        if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
          throw new ControlError(`"${key}" must be a number >= 0 (the clock only moves forward)`);
        }
        total += value * MS[key as keyof typeof MS];
        any = true;
      }
      if (!any) throw new ControlError('body must name how far to move, e.g. {"days": 31}');
      await ctx.clock.advance(Math.round(total));
      return { ...clockView(ctx), advancedMs: Math.round(total), queuedDeliveries: eventGrid.pending() };
    }),

    // ------------------------------------------------------------ event grid
    route("GET", "/_sandbox/eventgrid/subscriptions", () => ({ value: eventGrid.subscriptions() })),
    route("POST", "/_sandbox/eventgrid/subscriptions", async (req) => {
      const b = objectBody(req);
      if (typeof b.endpointUrl !== "string")
        throw new ControlError('"endpointUrl" (the webhook URL) is required');
      optional(b, "name", "string");
      optional(b, "schema", "string");
      optional(b, "maxDeliveryAttempts", "number");
      optional(b, "eventTimeToLiveInMinutes", "number");
      optional(b, "duplicate", "boolean");
      optional(b, "shuffle", "boolean");
      if (
        b.includedEventTypes !== undefined &&
        !(Array.isArray(b.includedEventTypes) && b.includedEventTypes.every((t) => typeof t === "string"))
      ) {
        throw new ControlError('"includedEventTypes" must be an array of strings');
      }
      const sub = await eventGrid.subscribe(b as never);
      return { status: 201, body: sub };
    }),
    route("DELETE", "/_sandbox/eventgrid/subscriptions", () => {
      for (const s of eventGrid.subscriptions()) eventGrid.unsubscribe(s.name);
      return { status: 204 };
    }),
    route("GET", "/_sandbox/eventgrid/subscriptions/:name", (req) => {
      const sub = eventGrid.subscriptions().find((s) => s.name === req.params.name);
      if (!sub) throw new ControlError(`no event subscription named "${req.params.name}"`, 404, "NotFound");
      return sub;
    }),
    route("PATCH", "/_sandbox/eventgrid/subscriptions/:name", (req) => {
      const b = objectBody(req);
      optional(b, "duplicate", "boolean");
      optional(b, "shuffle", "boolean");
      const name = req.params.name ?? "";
      if (!eventGrid.subscriptions().some((s) => s.name === name)) {
        throw new ControlError(`no event subscription named "${name}"`, 404, "NotFound");
      }
      return eventGrid.updateSubscription(name, b as { duplicate?: boolean; shuffle?: boolean });
    }),
    route("DELETE", "/_sandbox/eventgrid/subscriptions/:name", (req) => {
      if (!eventGrid.unsubscribe(req.params.name ?? "")) {
        throw new ControlError(`no event subscription named "${req.params.name}"`, 404, "NotFound");
      }
      return { status: 204 };
    }),
    route("POST", "/_sandbox/eventgrid/flush", async (req) => {
      const b = objectBody(req);
      optional(b, "timeoutMs", "number");
      const timeoutMs = (b.timeoutMs as number | undefined) ?? 60_000;
      let timer: NodeJS.Timeout | undefined;
      const flushed = await Promise.race([
        eventGrid.flush().then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      return { flushed, pending: eventGrid.pending(), deliveries: eventGrid.deliveries().length };
    }),
    route("GET", "/_sandbox/eventgrid/deliveries", (req) => {
      const subscription = req.query.get("subscription");
      return { value: eventGrid.deliveries(subscription ? { subscription } : undefined) };
    }),
    route("GET", "/_sandbox/eventgrid/settings", () => eventGrid.settings()),
    route("PUT", "/_sandbox/eventgrid/settings", (req) => {
      const b = objectBody(req);
      for (const key of Object.keys(b)) {
        if (!SETTINGS.includes(key)) {
          throw new ControlError(`unknown setting "${key}" (one of ${SETTINGS.join(", ")})`);
        }
      }
      optional(b, "timeScale", "number");
      optional(b, "duplicate", "boolean");
      optional(b, "shuffle", "boolean");
      optional(b, "responseTimeoutMs", "number");
      optional(b, "shuffleWindowMs", "number");
      optional(b, "seed", "number");
      return eventGrid.configure(b);
    }),
    // The `validationUrl` of Event Grid schema validation events: a GET here completes an
    // asynchronous (manual) validation, as Event Grid's port-553 URL does.
    route("GET", "/_sandbox/eventgrid/validate", (req) => {
      const id = req.query.get("id") ?? "";
      const code = req.query.get("code") ?? "";
      if (!eventGrid.completeAsyncValidation(id, code)) {
        throw new ControlError("unknown or expired validation request", 404, "NotFound");
      }
      return { status: 200, raw: true, body: "Webhook successfully validated as a subscription endpoint." };
    }),

    // ------------------------------------------------------------ faults
    route("GET", "/_sandbox/faults", () => faultsView(ctx)),
    route("PUT", "/_sandbox/faults", (req) => {
      const ct = String(req.headers["content-type"] ?? "");
      let spec: string;
      let seed: number | undefined;
      if (ct.startsWith("text/plain")) {
        spec = req.body.toString("utf8").trim();
      } else {
        const b = objectBody(req);
        if (typeof b.spec !== "string") {
          throw new ControlError('body must be {"spec": "graph=429@0.3/2;…"} (or the spec as text/plain)');
        }
        optional(b, "seed", "number");
        spec = b.spec;
        seed = b.seed as number | undefined;
      }
      const rules = parseFaultSpec(spec);
      ctx.faults.set(rules, seed);
      return faultsView(ctx);
    }),
    route("DELETE", "/_sandbox/faults", () => {
      ctx.faults.clear();
      return { status: 204 };
    }),

    // ------------------------------------------------------------ logs
    route("GET", "/_sandbox/logs", (req) => {
      const stream = req.query.get("stream");
      const value = ctx.logs
        .records()
        .map((r, index) => ({ index, ...r }))
        .filter((r) => !stream || r.stream === stream);
      return { value, count: value.length };
    }),
    route("DELETE", "/_sandbox/logs", () => {
      ctx.logs.reset();
      return { status: 204 };
    }),
    route("PATCH", "/_sandbox/logs/:index", (req) => {
      const index = parseIndex(req.params.index);
      const b = objectBody(req);
      if (Object.keys(b).length === 0) {
        throw new ControlError("body must be an object of fields to set (null removes a field)");
      }
      ctx.logs.tamper(index, b);
      return { index, ...ctx.logs.records()[index] };
    }),
    route("DELETE", "/_sandbox/logs/:index", (req) => {
      ctx.logs.tamper(parseIndex(req.params.index), null);
      return { status: 204 };
    }),

    // ------------------------------------------------------------ sign-ins
    route("GET", "/_sandbox/signins", (req) => {
      const clientId = req.query.get("clientid");
      const value = ctx.signIns.entries().filter((e) => !clientId || e.clientId === clientId);
      return { value, count: value.length };
    }),
  ];
}

function isResponse(x: unknown): x is SandboxResponse {
  return typeof x === "object" && x !== null && typeof (x as { status?: unknown }).status === "number";
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}

/** The JSON object body of a request (an empty body counts as `{}`). */
function objectBody(req: SandboxRequest): Record<string, unknown> {
  if (req.body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString("utf8"));
  } catch (e) {
    throw new ControlError(`malformed JSON body: ${oneLine((e as Error).message)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ControlError("the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

function optional(b: Record<string, unknown>, key: string, type: "string" | "number" | "boolean"): void {
  if (b[key] !== undefined && typeof b[key] !== type) throw new ControlError(`"${key}" must be a ${type}`);
}

function parseIndex(raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ControlError(`"${raw}" is not a record index (an integer >= 0)`);
  return n;
}

function clockView(ctx: SandboxContext): { now: string; epochMs: number; offsetMs: number } {
  // One reading of the clock, so `now` and `epochMs` name the same instant.
  const epochMs = ctx.clock.now();
  return { now: new Date(epochMs).toISOString(), epochMs, offsetMs: ctx.clock.offset };
}

function formatRule(r: FaultRule): string {
  let s = r.service as string;
  if (r.path) s += `:${r.path.source.replace(/\\\//g, "/")}`;
  if (r.method) s += `,${r.method}`;
  s += `=${r.kind}`;
  if (r.probability !== undefined) s += `@${r.probability}`;
  if (r.count !== undefined) s += `x${r.count}`;
  if (r.param !== undefined) s += `/${r.param}`;
  return s;
}

function faultsView(ctx: SandboxContext): { spec: string; rules: string[]; hits: Record<string, number> } {
  const rules = ctx.faults.list().map(formatRule);
  return { spec: rules.join(";"), rules, hits: Object.fromEntries(ctx.faults.hits) };
}

const MAX_LISTED_CERTIFICATES = 1000;

/** A summary of the directory and the vault (names, counts, the first 1000 certificates). */
export function tenantSummary(ctx: SandboxContext): Record<string, unknown> {
  const names = ctx.vault.certificateNames();
  return {
    defaultTenantId: ctx.directory.defaultTenantId,
    tenants: ctx.directory
      .tenantIds()
      .map((tenantId) => ({ tenantId, objects: ctx.directory.count(tenantId) })),
    managedIdentity: { clientId: ctx.managedIdentity.clientId, objectId: ctx.managedIdentity.objectId },
    vault: {
      name: ctx.vault.name,
      url: ctx.vault.url,
      resourceId: ctx.vault.resourceId,
      certificateCount: names.length,
      certificates: names.slice(0, MAX_LISTED_CERTIFICATES).map((name) => {
        const v = ctx.vault.latest(name);
        return v
          ? {
              name,
              version: v.version,
              thumbprint: v.thumbprintHex,
              notBefore: new Date(v.notBefore * 1000).toISOString(),
              expires: new Date(v.expires * 1000).toISOString(),
              versions: ctx.vault.versions(name).length,
              enabled: v.enabled,
              tags: v.tags,
            }
          : { name };
      }),
    },
  };
}
