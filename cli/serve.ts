/**
 * `rollover serve`: the function definitions mounted under the Functions host's own routes, so
 * the app runs end to end on a machine without the host.
 *
 *   POST|OPTIONS /runtime/webhooks/eventgrid?functionName=<name>&code=<key>
 *       the Event Grid trigger's webhook: subscription validation answered, the CloudEvents
 *       OPTIONS handshake, one invocation per event (at most ROLLOVER_CONCURRENCY at once), 202
 *       when all succeeded, 500 when any failed (Event Grid delivers the batch again), 400 when
 *       an event was refused (its vault does not match its topic, or is not allowed)
 *   /api/<route>               HTTP functions, with the function key (`x-functions-key` or `code`)
 *   POST /admin/functions/<name>   runs a timer (or a queue function with `{"input": …}`) now,
 *                              with the master key only (`x-functions-key`), as the host's admin API
 *   timers                     on their NCRONTAB schedules (six fields, UTC)
 *   queues                     polled from Azure Storage (Azurite locally), base64 JSON messages,
 *                              five attempts then `<queue>-poison`, as host.json sets
 *
 * Settings come from the environment, as app settings do in Azure.
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import azureFunctions, { type HttpResponseInit, type Timer } from "@azure/functions";

// @azure/functions is CommonJS whose named exports Node's ESM loader cannot see: take the
// classes from the default export.
const { HttpRequest, InvocationContext } = azureFunctions;
type InvocationContext = InstanceType<typeof InvocationContext>;
import type { QueueClient } from "@azure/storage-queue";
import { CronExpressionParser } from "cron-parser";
import { type FunctionDefinition, functionDefinitions } from "../functions/definitions.js";
import { rolloverFor, type Runtime, runClock } from "../functions/runtime.js";
import { decodeMessage, queueClient } from "../shared/azure/queue.js";
import { oneLine } from "../shared/events/handle.js";
import { EventParseError, eventsOf, parseEvent, validationCodeOf } from "../shared/events/parse.js";
import { safeLine } from "../shared/log.js";
import { mapWithConcurrency } from "../shared/rotation/concurrency.js";
import { errorSummary } from "../shared/errors.js";

/**
 * What keyVaultEvents returns for an event it refused outright: its `data.Id` names another vault
 * than its topic (a forged event). A vault not on the allow list is acknowledged (2xx), as before.
 */
function isRefusal(v: unknown): v is { status: "rejected"; reason: string } {
  const r = v as { status?: unknown; reason?: unknown } | null;
  return typeof r === "object" && r !== null && r.status === "rejected" && r.reason === "EventVaultMismatch";
}

export interface ServeOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * The clock handlers read (default: the settings' clock, the sandbox's when
   * ROLLOVER_SANDBOX_CONTROL_URL is set, read at start and before each run); timers fire on
   * wall-clock time.
   */
  now?: () => number;
  log?: (line: string) => void;
  /** The key HTTP functions and the webhook accept (default: a new random key). */
  functionKey?: string;
  /** The key the admin routes accept, and no other (default: a new random key). */
  masterKey?: string;
  /** Run timers on their schedules (default true). */
  timers?: boolean;
  /** Poll queues (default true). */
  queues?: boolean;
  /** Longest wait between polls of an empty queue (default 1000 ms). */
  maxQueuePollMs?: number;
}

export interface ServeHandle {
  url: string;
  functionKey: string;
  masterKey: string;
  /** Runs a timer function now; resolves with what it returned. */
  fireTimer(name: string): Promise<unknown>;
  /** Waits until every queue is empty and no invocation is running. */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Largest request body read. */
export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_DEQUEUE_COUNT = 5;
const QUEUE_BATCH = 16;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer, what: string): unknown {
  const text = raw.toString("utf8");
  if (!text.trim()) throw new HttpError(400, `empty body: expected ${what}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the body is not valid JSON");
  }
}

function sendJson(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers }).end(text);
}

function keyMatches(given: string | undefined, key: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

export async function startServe(opts: ServeOptions = {}): Promise<ServeHandle> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${safeLine(line)}\n`));
  const rt: Runtime = { env: opts.env ?? process.env, ...(opts.now ? { now: opts.now } : {}), log };
  const defs = functionDefinitions(rt);
  // Build Rollover now, so bad settings stop the start with every problem listed.
  const rollover = rolloverFor(rt);
  await runClock(rt);
  const functionKey = opts.functionKey ?? randomBytes(24).toString("base64url");
  // The Functions host's admin API takes the master key only, never a function key.
  const masterKey = opts.masterKey ?? randomBytes(32).toString("base64url");
  if (keyMatches(masterKey, functionKey))
    throw new Error("serve: the master key must differ from the function key");
  const byName = new Map(defs.map((d) => [d.name.toLowerCase(), d]));
  let running = 0;
  let closed = false;
  const stops: Array<() => void> = [];
  const loops: Promise<void>[] = [];

  function context(name: string): InvocationContext {
    return new InvocationContext({
      invocationId: randomUUID(),
      functionName: name,
      logHandler: (level, ...args) =>
        log(`[${name}] ${level === "information" ? "" : `${level}: `}${args.map(String).join(" ")}`),
    });
  }

  async function invoke<T>(name: string, f: (ctx: InvocationContext) => Promise<T>): Promise<T> {
    running += 1;
    try {
      return await f(context(name));
    } finally {
      running -= 1;
    }
  }

  // ------------------------------------------------------------------ timers
  const timerChains = new Map<string, Promise<unknown>>();
  function runTimer(
    d: Extract<FunctionDefinition, { trigger: "timer" }>,
    isPastDue = false,
  ): Promise<unknown> {
    const prev = timerChains.get(d.name) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(() => {
        const timer: Timer = {
          isPastDue,
          schedule: { adjustForDST: true },
          scheduleStatus: { last: new Date().toISOString(), next: "", lastUpdated: new Date().toISOString() },
        };
        return invoke(d.name, (ctx) => d.handler(timer, ctx));
      });
    timerChains.set(d.name, next);
    return next;
  }

  function schedule(d: Extract<FunctionDefinition, { trigger: "timer" }>) {
    let timeout: NodeJS.Timeout | undefined;
    const arm = () => {
      if (closed) return;
      const next = CronExpressionParser.parse(d.schedule, { currentDate: new Date(), tz: "UTC" })
        .next()
        .getTime();
      // setTimeout holds at most ~24.8 days; re-arm on the way for longer waits.
      const wait = Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1);
      timeout = setTimeout(() => {
        if (Date.now() + 5 < next) return arm();
        runTimer(d).then(
          () => undefined,
          (e: unknown) => log(`[${d.name}] failed: ${errorSummary(e)}`),
        );
        arm();
      }, wait);
      timeout.unref();
    };
    arm();
    stops.push(() => clearTimeout(timeout));
  }

  // ------------------------------------------------------------------ queues
  const queues: QueueClient[] = [];
  function poll(d: Extract<FunctionDefinition, { trigger: "storageQueue" }>) {
    const queue = queueClient(rollover.storage, d.queueName);
    const poison = queueClient(rollover.storage, `${d.queueName}-poison`);
    queues.push(queue);
    const maxWait = opts.maxQueuePollMs ?? 1000;
    let wake: (() => void) | undefined;
    stops.push(() => wake?.());
    const loop = (async () => {
      await queue.createIfNotExists();
      let wait = 50;
      while (!closed) {
        let got = 0;
        try {
          const r = await queue.receiveMessages({ numberOfMessages: QUEUE_BATCH, visibilityTimeout: 300 });
          got = r.receivedMessageItems.length;
          await Promise.all(
            r.receivedMessageItems.map(async (m) => {
              try {
                await invoke(d.name, (ctx) => d.handler(decodeMessage(m.messageText), ctx));
                await queue.deleteMessage(m.messageId, m.popReceipt);
              } catch (e) {
                log(
                  `[${d.name}] message ${m.messageId} failed (attempt ${m.dequeueCount}): ${errorSummary(e)}`,
                );
                if (m.dequeueCount >= MAX_DEQUEUE_COUNT) {
                  await poison.createIfNotExists();
                  await poison.sendMessage(m.messageText);
                  await queue.deleteMessage(m.messageId, m.popReceipt);
                } else {
                  await queue.updateMessage(m.messageId, m.popReceipt, undefined, 0).catch(() => undefined);
                }
              }
            }),
          );
        } catch (e) {
          if (closed) break;
          log(`[${d.name}] polling ${d.queueName} failed: ${errorSummary(e)}`);
        }
        if (got > 0) {
          wait = 50;
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wait = Math.min(maxWait, wait * 2);
      }
    })();
    loops.push(loop);
  }

  // ------------------------------------------------------------------ HTTP
  async function eventGridWebhook(req: IncomingMessage, res: ServerResponse, url: URL) {
    const name = url.searchParams.get("functionName") ?? "";
    const d = byName.get(name.toLowerCase());
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
    const raw = await readBody(req);
    const kind = String(req.headers["aeg-event-type"] ?? "").trim();
    const contentType = String(req.headers["content-type"] ?? "");
    if (kind === "SubscriptionValidation") {
      const body = parseJson(raw, "a subscription validation event");
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
    const body = parseJson(raw, "an event or an array of events");
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
    const results = await mapWithConcurrency(events, rollover.config.concurrency, (e) =>
      invoke(d.name, (ctx) => d.handler(e, ctx)).then(
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
      r.status === "fulfilled" && isRefusal(r.value) ? [r.value.reason] : [],
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
    const d = defs.find(
      (x): x is Extract<FunctionDefinition, { trigger: "http" }> =>
        x.trigger === "http" && x.route.toLowerCase() === route.toLowerCase(),
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
    const out: HttpResponseInit = await invoke(
      d.name,
      (ctx) => Promise.resolve(d.handler(request, ctx)) as Promise<HttpResponseInit>,
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
    const d = byName.get(name.toLowerCase());
    if (!d) throw new HttpError(404, `cannot find function: '${oneLine(name, 80)}'`);
    // As the host's admin API: a JSON object body, `{"input": …}` (`{}` for a timer).
    const body = parseJson(await readBody(req), '{"input": …}');
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'expected a JSON object: {"input": …}');
    }
    const input = (body as { input?: unknown }).input;
    if (d.trigger === "timer") await runTimer(d);
    else if (d.trigger === "storageQueue") {
      if (input === undefined) throw new HttpError(400, 'a queue function needs {"input": "<message>"}');
      await invoke(d.name, (ctx) => d.handler(typeof input === "string" ? decodeMessage(input) : input, ctx));
    } else throw new HttpError(400, `${d.name} is not a timer or queue function`);
    sendJson(res, 202);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const path = url.pathname.replace(/\/+$/, "") || "/";
      try {
        const lower = path.toLowerCase();
        const given =
          (req.headers["x-functions-key"] as string | undefined) ?? url.searchParams.get("code") ?? undefined;
        if (lower.startsWith("/admin/")) {
          if (!keyMatches(given, masterKey)) {
            req.resume();
            throw new HttpError(
              401,
              "missing or wrong master key (x-functions-key header); admin routes take no function key",
            );
          }
        } else if (
          (lower === "/runtime/webhooks/eventgrid" || lower.startsWith("/api/")) &&
          !keyMatches(given, functionKey)
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  for (const d of defs) {
    if (d.trigger === "timer" && opts.timers !== false) schedule(d);
    if (d.trigger === "storageQueue" && opts.queues !== false) poll(d);
  }

  return {
    url,
    functionKey,
    masterKey,
    fireTimer(name: string) {
      const d = byName.get(name.toLowerCase());
      if (d?.trigger !== "timer") return Promise.reject(new Error(`no timer function named ${name}`));
      return runTimer(d);
    },
    async idle(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      let quiet = 0;
      while (Date.now() < until) {
        let pending = 0;
        for (const q of queues) {
          const p = await q.getProperties().catch(() => ({ approximateMessagesCount: 0 }));
          pending += p.approximateMessagesCount ?? 0;
        }
        quiet = pending === 0 && running === 0 ? quiet + 1 : 0;
        if (quiet >= 3) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`serve: not idle after ${timeoutMs} ms`);
    },
    async close() {
      closed = true;
      for (const s of stops) s();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.allSettled(loops);
      await Promise.allSettled([...timerChains.values()]);
    },
  };
}

/**
 * What the `rollover serve` command runs: starts, prints one JSON line (`url`, `functionKey`,
 * the functions) on stdout, logs to stderr, and stops on SIGINT/SIGTERM.
 */
export async function runServeCli(opts: ServeOptions = {}): Promise<ServeHandle> {
  const handle = await startServe(opts);
  const names = functionDefinitions({ env: opts.env ?? process.env, log: () => {} }).map((d) => d.name);
  process.stdout.write(
    `${JSON.stringify({ url: handle.url, functionKey: handle.functionKey, masterKey: handle.masterKey, functions: names })}\n`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void handle.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return handle;
}
