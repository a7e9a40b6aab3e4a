/**
 * `rollover serve`: the function definitions mounted under the Functions host's own routes, so
 * the app runs end to end on a machine without the host. This file wires the rooms together:
 *
 *   serve/routes.ts   the HTTP routes (Event Grid webhook, HTTP functions, admin API) and their
 *                     key checks
 *   serve/timers.ts   timers on their NCRONTAB schedules (six fields, UTC)
 *   serve/queues.ts   queues polled from Azure Storage (Azurite locally), base64 JSON messages,
 *                     five attempts then `<queue>-poison`, as host.json sets
 *   serve/context.ts  what they share: definitions, Rollover, log, invocations, shutdown signal
 *
 * Settings come from the environment, as app settings do in Azure.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { functionDefinitions } from "../functions/definitions.js";
import { rolloverFor, type Runtime, runClock } from "../functions/runtime.js";
import { safeLine } from "../shared/log.js";
import { serveContext } from "./serve/context.js";
import { keyMatches } from "./serve/http.js";
import { serveQueues } from "./serve/queues.js";
import { serveRoutes } from "./serve/routes.js";
import { serveTimers } from "./serve/timers.js";

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
  const shutdown = new AbortController();
  const ctx = serveContext({ defs, rollover, log, signal: shutdown.signal });
  const timers = serveTimers(ctx);
  const queues = serveQueues(ctx, { maxQueuePollMs: opts.maxQueuePollMs });

  const server = createServer(serveRoutes(ctx, { functionKey, masterKey }, timers));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  for (const d of defs) {
    if (d.trigger === "timer" && opts.timers !== false) timers.schedule(d);
    if (d.trigger === "storageQueue" && opts.queues !== false) queues.poll(d);
  }

  return {
    url,
    functionKey,
    masterKey,
    fireTimer(name: string) {
      const d = ctx.byName(name);
      if (d?.trigger !== "timer") return Promise.reject(new Error(`no timer function named ${name}`));
      return timers.run(d);
    },
    async idle(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      let quiet = 0;
      while (Date.now() < until) {
        const pending = await queues.pending();
        quiet = pending === 0 && ctx.running() === 0 ? quiet + 1 : 0;
        if (quiet >= 3) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`serve: not idle after ${timeoutMs} ms`);
    },
    async close() {
      shutdown.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await queues.stopped();
      await timers.settled();
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
