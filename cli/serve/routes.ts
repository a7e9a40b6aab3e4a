/**
 * serve's HTTP routes, as the Functions host mounts them:
 *
 *   POST|OPTIONS /runtime/webhooks/eventgrid?functionName=<name>&code=<key>
 *       the Event Grid trigger's webhook: subscription validation answered, the CloudEvents
 *       OPTIONS handshake, one invocation per event (at most ROLLOVER_CONCURRENCY at once), 202
 *       when all succeeded, 500 when any failed (Event Grid delivers the batch again), 400 when
 *       an event was refused (its vault does not match its topic); an event for a vault not on
 *       the allow list is acknowledged
 *   /api/<route>               HTTP functions, with the function key (`x-functions-key` or `code`)
 *   POST /admin/functions/<name>   runs a timer (or a queue function with `{"input": …}`) now,
 *                              with the master key only (`x-functions-key`), as the host's admin API
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import azureFunctions, { type HttpResponseInit } from "@azure/functions";
import { HttpError, parseJsonBody } from "../../functions/http-body.js";
import { isEventRefusal } from "../../functions/keyVaultEvents.js";
import { decodeMessage } from "../../shared/azure/queue.js";
import { oneLine } from "../../shared/text.js";
import { EventParseError, eventsOf, parseEvent, validationCodeOf } from "../../shared/events/parse.js";
import { mapWithConcurrency } from "../../shared/rotation/concurrency.js";
import { errorSummary } from "../../shared/errors.js";
import type { HttpDefinition, ServeContext } from "./context.js";
import { headerRecord, keyMatches, readBody, sendJson } from "./http.js";
import type { Timers } from "./timers.js";

// @azure/functions is CommonJS whose named exports Node's ESM loader cannot see: take the
// classes from the default export.
const { HttpRequest } = azureFunctions;

export interface RouteKeys {
  /** The key HTTP functions and the webhook accept. */
  functionKey: string;
  /** The key the admin routes accept, and no other. */
  masterKey: string;
}

/** The request listener: key checks first (nothing is read or run without the right key), then the route. */
export function serveRoutes(ctx: ServeContext, keys: RouteKeys, timers: Timers): RequestListener {
  const { log } = ctx;

  async function eventGridWebhook(req: IncomingMessage, res: ServerResponse, url: URL) {
    const name = url.searchParams.get("functionName") ?? "";
    const d = ctx.byName(name);
    if (d?.trigger !== "eventGrid") throw new HttpError(404, `cannot find function: '${oneLine(name, 80)}'`);
    const method = (req.method ?? "").toUpperCase();
    if (method === "OPTIONS") {
      // CloudEvents HTTP webhook abuse protection (used by Event Grid for CloudEvents subscriptions).
      const origin = req.headers["webhook-request-origin"];
      if (typeof origin !== "string" || !origin.trim())
        throw new HttpError(400, "WebHook-Request-Origin header missing");
      sendJson(res, 200, undefined, { "WebHook-Allowed-Origin": origin.trim(), "WebHook-Allowed-Rate": "*" });
      return;
    }
    if (method !== "POST") throw new HttpError(405, `${method} is not allowed`);
    const raw = (await readBody(req)).toString("utf8");
    const kind = String(req.headers["aeg-event-type"] ?? "").trim();
    const contentType = String(req.headers["content-type"] ?? "");
    if (kind === "SubscriptionValidation") {
      const body = parseJsonBody(raw, "a subscription validation event");
      const first = Array.isArray(body) ? body[0] : body;
      const code = validationCodeOf(first);
      if (!code) throw new HttpError(400, "no data.validationCode in the validation event");
      sendJson(res, 200, { validationResponse: code });
      return;
    }
    if (kind === "Unsubscribe" || kind === "SubscriptionDeletion") {
      sendJson(res, 202);
      return;
    }
    if (kind !== "Notification" && !/cloudevents/i.test(contentType)) {
      throw new HttpError(400, "aeg-event-type header missing or unknown");
    }
    const body = parseJsonBody(raw, "an event or an array of events");
    let events: unknown[];
    try {
      events = eventsOf(body);
      events.forEach((e, i) => {
        try {
          parseEvent(e);
        } catch (err) {
          throw new EventParseError(`${events.length > 1 ? `event ${i}: ` : ""}${(err as Error).message}`);
        }
      });
    } catch (e) {
      if (e instanceof EventParseError) throw new HttpError(400, e.message);
      throw e;
    }
    // A bounded number at once: an array of events cannot start unbounded work.
    const results = await mapWithConcurrency(events, ctx.rollover.config.concurrency, (e) =>
      ctx
        .invoke(d.name, (ictx) => d.handler(e, ictx))
        .then(
          (value): PromiseSettledResult<unknown> => ({ status: "fulfilled", value }),
          (reason: unknown): PromiseSettledResult<unknown> => ({ status: "rejected", reason }),
        ),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    for (const f of failed) log(`[${d.name}] failed: ${errorSummary(f.reason)}`);
    if (failed.length > 0) {
      sendJson(res, 500, { error: `${failed.length} of ${events.length} event(s) failed` });
      return;
    }
    const refused = results.flatMap((r) =>
      r.status === "fulfilled" && isEventRefusal(r.value) ? [r.value.reason] : [],
    );
    if (refused.length > 0) {
      sendJson(res, 400, {
        error: `${refused.length} of ${events.length} event(s) refused: ${[...new Set(refused)].join(", ")}`,
      });
      return;
    }
    sendJson(res, 202);
  }

  async function httpFunction(req: IncomingMessage, res: ServerResponse, url: URL, route: string) {
    const d = ctx.defs.find(
      (x): x is HttpDefinition => x.trigger === "http" && x.route.toLowerCase() === route.toLowerCase(),
    );
    if (!d) throw new HttpError(404, `no function at /api/${oneLine(route, 80)}`);
    const method = (req.method ?? "GET").toUpperCase();
    if (!d.methods.includes(method as never))
      throw new HttpError(405, `${method} is not allowed on /api/${d.route}`);
    const raw = await readBody(req);
    const headers = headerRecord(req);
    const query = Object.fromEntries(url.searchParams.entries());
    delete query.code;
    const request = new HttpRequest({
      method,
      url: url
        .toString()
        .replace(/([?&])code=[^&]*&?/, "$1")
        .replace(/[?&]$/, ""),
      headers,
      query,
      ...(raw.length ? { body: { bytes: new Uint8Array(raw) } } : {}),
    });
    const out: HttpResponseInit = await ctx.invoke(
      d.name,
      (ictx) => Promise.resolve(d.handler(request, ictx)) as Promise<HttpResponseInit>,
    );
    const status = out.status ?? 200;
    const extra: Record<string, string> = {};
    if (out.headers)
      new Headers(out.headers as Record<string, string>).forEach((v, k) => {
        extra[k] = v;
      });
    if (out.jsonBody !== undefined) return sendJson(res, status, out.jsonBody, extra);
    if (typeof out.body === "string") {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...extra }).end(out.body);
      return;
    }
    sendJson(res, status, undefined, extra);
  }

  async function admin(req: IncomingMessage, res: ServerResponse, name: string) {
    if ((req.method ?? "").toUpperCase() !== "POST") throw new HttpError(405, "use POST");
    const d = ctx.byName(name);
    if (!d) throw new HttpError(404, `cannot find function: '${oneLine(name, 80)}'`);
    // As the host's admin API: a JSON object body, `{"input": …}` (`{}` for a timer).
    const body = parseJsonBody((await readBody(req)).toString("utf8"), '{"input": …}');
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'expected a JSON object: {"input": …}');
    }
    const input = (body as { input?: unknown }).input;
    if (d.trigger === "timer") await timers.run(d);
    else if (d.trigger === "storageQueue") {
      if (input === undefined) throw new HttpError(400, 'a queue function needs {"input": "<message>"}');
      await ctx.invoke(d.name, (ictx) =>
        d.handler(typeof input === "string" ? decodeMessage(input) : input, ictx),
      );
    } else throw new HttpError(400, `${d.name} is not a timer or queue function`);
    sendJson(res, 202);
  }

  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const path = url.pathname.replace(/\/+$/, "") || "/";
      try {
        const lower = path.toLowerCase();
        const given =
          (req.headers["x-functions-key"] as string | undefined) ?? url.searchParams.get("code") ?? undefined;
        if (lower.startsWith("/admin/")) {
          if (!keyMatches(given, keys.masterKey)) {
            req.resume();
            throw new HttpError(
              401,
              "missing or wrong master key (x-functions-key header); admin routes take no function key",
            );
          }
        } else if (
          (lower === "/runtime/webhooks/eventgrid" || lower.startsWith("/api/")) &&
          !keyMatches(given, keys.functionKey)
        ) {
          req.resume();
          throw new HttpError(401, "missing or wrong function key (x-functions-key header or code query)");
        }
        if (lower === "/runtime/webhooks/eventgrid") return await eventGridWebhook(req, res, url);
        if (lower.startsWith("/api/")) return await httpFunction(req, res, url, path.slice("/api/".length));
        const m = /^\/admin\/functions\/([^/]+)$/i.exec(path);
        if (m) return await admin(req, res, decodeURIComponent(m[1]!));
        req.resume();
        throw new HttpError(404, `no route for ${oneLine(path, 100)}`);
      } catch (e) {
        if (res.headersSent) return;
        if (e instanceof HttpError) return sendJson(res, e.status, { error: oneLine(e.message) });
        log(`serve: ${req.method} ${path} failed: ${errorSummary(e)}`);
        sendJson(res, 500, { error: oneLine(`internal error: ${errorSummary(e)}`) });
      }
    })();
  };
}
