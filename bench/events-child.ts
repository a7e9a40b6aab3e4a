/**
 * `rollover serve` in its own process, as the Functions host runs the app: Event Grid pushes to
 * its webhook and `keyVaultEvents` runs the real handler (audit to the sandbox's Logs Ingestion,
 * the sandbox's virtual clock). Timers and queue polling are off: only the event path runs.
 *
 * Every HTTP exchange of the process is logged with its start and end (diagnostics_channel: the
 * webhook's requests as the server saw them, and each outbound request of the Azure SDKs and of
 * `fetch`), on one clock shared with the benchmark runner (`performance.timeOrigin + now()`).
 *
 * Prints one JSON line when ready (`url`, `functionKey`); on `stop` (stdin) closes and prints the
 * log as one JSON line.
 */
import { subscribe } from "node:diagnostics_channel";
import type { ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import { startServe } from "../cli/serve.js";

export interface ExchangeLog {
  /** "in" for the webhook (server side), "out" for a request this process sent. */
  dir: "in" | "out";
  /** `http://127.0.0.1:port` of the other party. */
  origin: string;
  method: string;
  /** Path without the query. */
  path: string;
  status?: number;
  start: number;
  end?: number;
}

const at = () => performance.timeOrigin + performance.now();
const log: ExchangeLog[] = [];
const open = new WeakMap<object, ExchangeLog>();
const pathOf = (p: string) => p.split("?")[0] ?? p;

subscribe("http.client.request.start", (m) => {
  const req = (m as { request: ClientRequest }).request;
  const e: ExchangeLog = {
    dir: "out",
    // Node sets the Host header (host:port) when the request is made.
    origin: `${req.protocol}//${String(req.getHeader("host") ?? req.host)}`,
    method: req.method,
    path: pathOf(req.path),
    start: at(),
  };
  open.set(req, e);
  log.push(e);
});
subscribe("http.client.response.finish", (m) => {
  const { request, response } = m as { request: ClientRequest; response: IncomingMessage };
  const e = open.get(request);
  if (!e) return;
  e.status = response.statusCode ?? 0;
  // The body may still be streaming: the exchange ends when it is read.
  response.once("end", () => {
    e.end = at();
  });
  response.once("close", () => {
    e.end ??= at();
  });
});
subscribe("undici:request:create", (m) => {
  const req = (m as { request: { origin: string; method: string; path: string } }).request;
  const e: ExchangeLog = {
    dir: "out",
    origin: String(req.origin),
    method: req.method,
    path: pathOf(req.path),
    start: at(),
  };
  open.set(req, e);
  log.push(e);
});
subscribe("undici:request:headers", (m) => {
  const { request, response } = m as { request: object; response: { statusCode: number } };
  const e = open.get(request);
  if (e) e.status = response.statusCode;
});
subscribe("undici:request:trailers", (m) => {
  const e = open.get((m as { request: object }).request);
  if (e) e.end = at();
});
subscribe("http.server.request.start", (m) => {
  const { request, response } = m as { request: IncomingMessage; response: ServerResponse };
  const e: ExchangeLog = {
    dir: "in",
    origin: "",
    method: request.method ?? "",
    path: pathOf(request.url ?? ""),
    start: at(),
  };
  log.push(e);
  response.once("finish", () => {
    e.status = response.statusCode;
    e.end = at();
  });
});

const serve = await startServe({
  env: process.env,
  timers: false,
  queues: false,
  log: (line) => {
    if (/fail|error/i.test(line)) process.stderr.write(`${line}\n`);
  },
});
process.stdout.write(`${JSON.stringify({ url: serve.url, functionKey: serve.functionKey })}\n`);

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c: string) => {
  input += c;
  if (input.includes("stop")) void stop();
});
// The runner went away: stop too.
process.stdin.on("end", () => void stop());
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await serve.close();
  // Exit once the line is out: a pipe takes large writes asynchronously.
  process.stdout.write(`${JSON.stringify({ log, maxRssKiB: process.resourceUsage().maxRSS })}\n`, () =>
    process.exit(0),
  );
}
