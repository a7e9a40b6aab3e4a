/**
 * Event to attached: the sandbox's Event Grid pushes `CertificateNearExpiry` for one binding at a
 * time to `rollover serve` (bench/events-child.ts, its own process) and the time from the delivery
 * reaching the webhook to the new key on the target is taken at the sandbox's Graph (the moment
 * its directory takes the key). Where the time goes comes from the serve process's own log of
 * every HTTP exchange, with start and end, on the same clock.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { parseFaultSpec } from "../sandbox/faults.js";
import type { SandboxHandle } from "../sandbox/index.js";
import type { SandboxVault } from "../sandbox/keyvault/store.js";
import { parseSeedName, seedTenant } from "../sandbox/seeds.js";
import { KEY_VAULT_EVENT_TYPES } from "../shared/events/types.js";
import type { ExchangeLog } from "./events-child.js";

const DAY = 86_400_000;
const at = () => performance.timeOrigin + performance.now();

export interface EventBenchOptions {
  root: string;
  /** Measured events (bindings), after one warm-up event. */
  events: number;
  /** Pause after Event Grid delivered everything queued, before the next event is published. */
  gapMs: number;
  /** Fault spec with the per-request latency. */
  latency: string;
  log: (line: string) => void;
}

interface EventSample {
  name: string;
  published: number;
  /** The webhook took the delivery (serve's server-side start of the POST). */
  delivered: number;
  /** The sandbox's Graph took the new key. */
  attached: number;
  /** serve answered the delivery (after attach, verify and the audit flush). */
  answered: number;
  exchanges: ExchangeLog[];
}

interface Serve {
  url: string;
  functionKey: string;
  stop(): Promise<{ log: ExchangeLog[]; maxRssKiB: number }>;
}

function startServeChild(sb: SandboxHandle, root: string): Promise<Serve> {
  const bundled = join(root, "dist/bench/events-child.mjs");
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bundled], {
      cwd: root,
      env: { ...process.env, ...sb.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let ready = false;
    let onExit: ((line: string | undefined) => void) | undefined;
    p.stderr.on("data", (c: Buffer) => {
      err += c.toString("utf8");
    });
    p.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      if (ready || !out.includes("\n")) return;
      ready = true;
      const first = JSON.parse(out.slice(0, out.indexOf("\n"))) as { url: string; functionKey: string };
      resolve({
        ...first,
        stop: () =>
          new Promise((res, rej) => {
            onExit = (line) => {
              try {
                res(JSON.parse(line ?? ""));
              } catch {
                rej(new Error(`serve gave no exchange log: ${err.slice(-2000)}`));
              }
            };
            p.stdin.end("stop\n");
          }),
      });
    });
    p.once("exit", (code) => {
      const lines = out.trim().split("\n");
      if (!ready) reject(new Error(`serve exited ${code} before it was ready: ${err.slice(-2000)}`));
      else onExit?.(code === 0 && lines.length > 1 ? lines.at(-1) : undefined);
    });
  });
}

/** A label per kind of exchange, the same for every binding (names, versions and ids folded). */
export function exchangeKind(e: ExchangeLog, sb: SandboxHandle): string {
  const path = e.path.split("?")[0] ?? e.path;
  const query = new URLSearchParams(e.path.split("?")[1] ?? "");
  if (e.dir === "in") return `webhook ${e.method} ${path}`;
  const sandbox = new URL(sb.urls.baseUrl).host;
  const host = e.origin.replace(/^\w+:\/\//, "");
  if (host === sandbox) {
    if (path.startsWith("/_sandbox/")) return "sandbox clock read (control API; sandbox only)";
    if (path.startsWith("/msi")) return "managed identity token";
    if (path.startsWith("/dataCollectionRules")) return "audit: Logs Ingestion upload";
    if (/^\/(v1\.0|beta)\//.test(path)) {
      const p = path
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "{id}")
        .replace(/\/(v1\.0|beta)/, "");
      return `Graph ${e.method} ${p}`;
    }
    // Key Vault: /certificates/{name}[/{version}|/create|/pending|/policy|/versions], /keys/{name}/{version}[/sign]
    const [coll, name, a, b] = path.split("/").slice(1);
    if (coll === "keys" && b === "sign")
      return name === "rollover-audit-signing" ? "audit: Key Vault sign (chain head)" : "Key Vault sign";
    if (coll === "keys") return `Key Vault ${e.method} /keys/{name}/{version} (key read)`;
    if (coll === "certificates") {
      const tail = !a
        ? " (newest version)"
        : ["create", "pending", "policy", "versions"].includes(a)
          ? `/${a}`
          : "/{version}";
      return `Key Vault ${e.method} /certificates/{name}${tail}`;
    }
    if (/\/oauth2\/v2\.0\/token$/.test(path)) return "Entra token";
    if (/\/\.well-known\/openid-configuration$/.test(path)) return "Entra openid-configuration";
    return `sandbox ${e.method} ${path}`;
  }
  const port = Number(host.split(":")[1]);
  const a = sb.azurite;
  const segs = path.split("/").filter(Boolean);
  if (a && port === a.blobPort) {
    const comp = query.get("comp");
    return `Blob ${e.method} ${segs[1] ?? ""}${segs[2] ? "/{blob}" : ""}${comp ? ` comp=${comp}` : ""}`;
  }
  if (a && port === a.tablePort) return `Table ${e.method} ${(segs[1] ?? "").replace(/\(.*$/, "")}`;
  if (a && port === a.queuePort) return `Queue ${e.method} ${segs[1] ?? ""}`;
  return `${e.method} ${e.origin}${path}`;
}

/** Seeds `count` bindings due for renewal (25 days of 365 left), self mode, one application each. */
async function seedBindings(
  sb: SandboxHandle,
  count: number,
): Promise<Array<{ name: string; appId: string }>> {
  const vault = sb.ctx.vault as unknown as SandboxVault;
  const now = sb.ctx.clock.now();
  const out: Array<{ name: string; appId: string }> = [];
  for (let i = 0; i < count; i++) {
    const name = `event-${i}`;
    out.push({ name, appId: await seedDueBinding(sb, vault, name, now) });
  }
  return out;
}

/**
 * One binding due for renewal: an application with the certificate's key, the certificate 25
 * days from the end of its 365 (self mode). Returns the application's object id.
 */
export async function seedDueBinding(
  sb: SandboxHandle,
  vault: SandboxVault,
  name: string,
  now: number,
): Promise<string> {
  const t = sb.urls.tenantId;
  const app = sb.ctx.directory.createApplication(t, { displayName: name });
  const expires = now + 25 * DAY;
  const v = await vault.createCertificate(name, {
    tags: { "rollover-target": app.id },
    notBefore: Math.floor((expires - 365 * DAY) / 1000),
    expires: Math.floor(expires / 1000),
  });
  sb.ctx.directory.addKeyCredential(t, app.id, { certificateDer: v.cerDer });
  return app.id;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const ms = (n: number) => `${Math.round(n).toLocaleString("en-US")} ms`;

/** Time inside [from, to] covered by at least one of the intervals. */
function covered(intervals: Array<[number, number]>, from: number, to: number): number {
  const clipped = intervals
    .map(([a, b]): [number, number] => [Math.max(a, from), Math.min(b, to)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = from;
  for (const [a, b] of clipped) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

export async function eventLatency(sb: SandboxHandle, o: EventBenchOptions): Promise<string> {
  const vault = sb.ctx.vault as unknown as SandboxVault;
  await seedTenant(sb.ctx, parseSeedName("empty"));
  // Renewals get new X.509 certificates on RSA keys made up front (key generation is the
  // sandbox's cost, not Rollover's), issued at once (issuance delay 0).
  await vault.recycleKeys(16);
  vault.issuanceDelayMs = 0;
  const bindings = await seedBindings(sb, o.events + 1);
  const serve = await startServeChild(sb, o.root);
  const samples: EventSample[] = [];
  let rssKiB = 0;
  try {
    await sb.eventGrid.subscribe({
      name: "rollover-bench",
      endpointUrl: `${serve.url}/runtime/webhooks/eventgrid?functionName=keyVaultEvents&code=${encodeURIComponent(serve.functionKey)}`,
      // As infra/main.bicep subscribes the function.
      includedEventTypes: [...KEY_VAULT_EVENT_TYPES],
    });
    // The sandbox's Graph takes a key: the moment it is on the target.
    const attachedAt = new Map<string, number>();
    const dir = sb.ctx.directory as unknown as {
      touch(o: { id: string }, props?: readonly string[]): void;
    };
    const touch = dir.touch.bind(dir);
    dir.touch = (obj, props) => {
      if (props?.includes("keyCredentials") && !attachedAt.has(obj.id)) attachedAt.set(obj.id, at());
      touch(obj, props);
    };
    sb.ctx.faults.set(parseFaultSpec(o.latency));
    const published: number[] = [];
    try {
      for (const [i, b] of bindings.entries()) {
        const info = sb.ctx.vault.latest(b.name)!;
        published.push(at());
        sb.eventGrid.publish("Microsoft.KeyVault.CertificateNearExpiry", info);
        // Spacing: the next event waits until Event Grid delivered everything queued (this event
        // and the CertificateNewVersionCreated its renewal raised), then gapMs more.
        await sb.eventGrid.flush();
        if (!attachedAt.has(b.appId)) throw new Error(`${b.name}: no new key on the target after its event`);
        if (i % 20 === 0) o.log(`events: ${i + 1}/${bindings.length}`);
        await new Promise((r) => setTimeout(r, o.gapMs));
      }
    } finally {
      sb.ctx.faults.clear();
      dir.touch = touch;
      sb.eventGrid.unsubscribe("rollover-bench");
    }
    const failed = sb.eventGrid
      .deliveries({ subscription: "rollover-bench" })
      .filter((d) => d.outcome !== "delivered");
    if (failed.length)
      throw new Error(`${failed.length} delivery attempt(s) failed: ${JSON.stringify(failed[0])}`);
    const out = await serve.stop();
    rssKiB = out.maxRssKiB;
    const webhooks = out.log
      .filter((e) => e.dir === "in" && e.method === "POST")
      .sort((a, b) => a.start - b.start);
    const outbound = out.log.filter((e) => e.dir === "out" && e.end !== undefined);
    for (const [i, b] of bindings.entries()) {
      const attached = attachedAt.get(b.appId)!;
      // The NearExpiry delivery is the first webhook POST after its publication.
      const hook = webhooks.find((w) => w.start >= published[i]! - 1);
      if (!hook?.end) throw new Error(`${b.name}: no webhook delivery logged`);
      samples.push({
        name: b.name,
        published: published[i]!,
        delivered: hook.start,
        attached,
        answered: hook.end,
        exchanges: outbound.filter((e) => e.start >= hook.start && e.start < hook.end!),
      });
    }
  } catch (e) {
    await serve.stop().catch(() => undefined);
    throw e;
  } finally {
    await vault.recycleKeys(undefined);
    vault.issuanceDelayMs = 250;
  }
  return report(sb, samples, o, rssKiB);
}

/**
 * The step of the event path an exchange belongs to, from its kind and its place in the event's
 * sequence: Key Vault reads from the policy read before `create` until the next exchange outside
 * Key Vault are the create and its polling; the first `sign` on a binding's key is the proof of
 * possession, the next ones sign the client assertion of the token as the target.
 */
export function stepsOf(kinds: string[]): string[] {
  let inCreate = false;
  let signs = 0;
  return kinds.map((k, i) => {
    if (
      k === "Key Vault POST /certificates/{name}/create" ||
      (k === "Key Vault GET /certificates/{name}/policy" &&
        kinds[i + 1] === "Key Vault POST /certificates/{name}/create")
    )
      inCreate = true;
    if (!k.startsWith("Key Vault")) inCreate = false;
    if (inCreate) return "Key Vault create + poll (SDK pollers)";
    if (k.startsWith("Blob ")) return "lease (Blob)";
    if (k === "Table GET RolloverState" || k === "Table PUT RolloverState") return "state record (Table)";
    if (k.startsWith("audit:") || k.includes("RolloverAuditChains") || k === "Table POST Tables")
      return "audit checkpoints (chain-head sign, chain table, Logs Ingestion)";
    if (k === "Key Vault sign")
      return signs++ === 0
        ? "proof of possession (Key Vault sign)"
        : "token as the target (assertion sign, Entra)";
    if (k.startsWith("Entra")) return "token as the target (assertion sign, Entra)";
    if (k.includes("(key read)")) return "signer set-up (CryptographyClient key read)";
    if (k === "Key Vault GET /certificates/{name}/{version}") return "version material (Key Vault)";
    if (k.startsWith("Key Vault")) return "observe: Key Vault (versions, policy, pending operation)";
    if (k === "Graph POST /applications/{id}/addKey") return "Graph addKey";
    if (k.startsWith("Graph")) return "observe: Graph (target, app management policy)";
    if (k === "managed identity token") return "managed identity token";
    return k;
  });
}

/** The longest stretch with no request in flight, named by the exchanges on either side. */
function longestGap(
  exchanges: ExchangeLog[],
  from: number,
  sb: SandboxHandle,
): { ms: number; between: string } {
  let best = { ms: 0, between: "" };
  let end = from;
  let before = "the delivery";
  for (const e of [...exchanges].sort((a, b) => a.start - b.start)) {
    const kind = exchangeKind(e, sb);
    if (e.start - end > best.ms) best = { ms: e.start - end, between: `${before} and ${kind}` };
    if (e.end! > end) {
      end = e.end!;
      before = `${kind} (${e.status ?? "?"})`;
    }
  }
  return best;
}

function report(sb: SandboxHandle, all: EventSample[], o: EventBenchOptions, rssKiB: number): string {
  const [warm, ...samples] = all;
  const lat = samples.map((s) => s.attached - s.delivered);
  const queue = samples.map((s) => s.delivered - s.published);
  const answer = samples.map((s) => s.answered - s.delivered);
  // Per kind of exchange and per step, within delivery → attached: requests and time per event.
  const kinds = new Map<string, { n: number; t: number; injected: number }>();
  const steps = new Map<string, { n: number; t: number; injected: number }>();
  const add = (m: typeof kinds, k: string, t: number, injected: boolean) => {
    const v = m.get(k) ?? { n: 0, t: 0, injected: 0 };
    v.n += 1;
    v.t += t;
    if (injected) v.injected += 1;
    m.set(k, v);
  };
  const idle: number[] = [];
  for (const s of samples) {
    const inWindow = s.exchanges.filter((e) => e.start < s.attached).sort((a, b) => a.start - b.start);
    const k = inWindow.map((e) => exchangeKind(e, sb));
    const st = stepsOf(k);
    inWindow.forEach((e, i) => {
      const t = Math.min(e.end!, s.attached) - e.start;
      const injected = /^(Graph|Key Vault|audit: Key Vault)/.test(k[i]!);
      add(kinds, k[i]!, t, injected);
      add(steps, st[i]!, t, injected);
    });
    const busy = covered(
      inWindow.map((e) => [e.start, e.end!]),
      s.delivered,
      s.attached,
    );
    idle.push(s.attached - s.delivered - busy);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const n = samples.length;
  const table = (m: typeof kinds) =>
    [...m.entries()]
      .sort((a, b) => b[1].t - a[1].t)
      .map(
        ([k, v]) =>
          `| ${k} | ${(v.n / n).toFixed(2)} | ${ms(v.t / n)} | ${v.injected ? `${(v.injected / n).toFixed(2)} × 20 ms = ${ms((v.injected / n) * 20)}` : "0"} |`,
      );
  const total = [...kinds.values()].reduce((a, v) => a + v.n, 0) / n;
  const injectedTotal = [...kinds.values()].reduce((a, v) => a + v.injected, 0) / n;
  const slowest = [...samples]
    .sort((a, b) => b.attached - b.delivered - (a.attached - a.delivered))
    .slice(0, 3);
  return [
    `${n} bindings, one \`Microsoft.KeyVault.CertificateNearExpiry\` each, published by the sandbox's Event Grid (subscription filtered to the three certificate events, as infra subscribes the function) to \`rollover serve\` in its own process (timers and queue polling off). Each binding is due (25 days left of 365), self mode; Key Vault issues at once (issuance delay 0, renewals on RSA keys made up front). Spacing: each event is published once Event Grid has delivered everything before it (the event and the \`CertificateNewVersionCreated\` its renewal raises), then ${o.gapMs} ms more, so no event waits behind another. One more event before them warms the process (first event: ${ms(warm!.attached - warm!.delivered)} delivery → attached) and is not counted.`,
    "",
    "Delivery: the webhook receives Event Grid's POST (serve's clock). Attached: the sandbox's Graph takes the new key (the benchmark's clock; the same machine clock).",
    "",
    "| | p50 | p90 | p99 | max |",
    "|---|---:|---:|---:|---:|",
    `| **delivery → attached** | **${ms(pct(lat, 50))}** | ${ms(pct(lat, 90))} | **${ms(pct(lat, 99))}** | ${ms(Math.max(...lat))} |`,
    `| published → delivered (Event Grid queue) | ${ms(pct(queue, 50))} | ${ms(pct(queue, 90))} | ${ms(pct(queue, 99))} | ${ms(Math.max(...queue))} |`,
    `| delivery → webhook answered (after verify and the audit flush) | ${ms(pct(answer, 50))} | ${ms(pct(answer, 90))} | ${ms(pct(answer, 99))} | ${ms(Math.max(...answer))} |`,
    "",
    `Where delivery → attached goes, mean per event, from serve's log of every HTTP exchange (start to end as serve saw it). \`${o.latency}\` adds 20 ms to each Graph and Key Vault request; Entra, managed identity, Logs Ingestion and Azurite get none. ${total.toFixed(1)} requests per event, ${injectedTotal.toFixed(1)} of them to Graph and Key Vault (${ms(injectedTotal * 20)} of injected latency); serve's peak RSS ${Math.round(rssKiB / 1024)} MiB.`,
    "",
    "| step | requests per event | time per event | of which injected (count × 20 ms) |",
    "|---|---:|---:|---:|",
    ...table(steps),
    `| no request in flight (handler CPU, parsing, audit hashing) | | ${ms(mean(idle))} | |`,
    `| **total** | ${total.toFixed(1)} | ${ms(mean(lat))} | ${ms(injectedTotal * 20)} |`,
    "",
    "<details><summary>By exchange</summary>",
    "",
    "| exchange | requests per event | time per event | of which injected (count × 20 ms) |",
    "|---|---:|---:|---:|",
    ...table(kinds),
    "",
    "</details>",
    "",
    `Slowest events: ${slowest
      .map((s) => {
        const inWindow = s.exchanges.filter((e) => e.start < s.attached);
        const busy = covered(
          inWindow.map((e) => [e.start, e.end!]),
          s.delivered,
          s.attached,
        );
        const gap = longestGap(inWindow, s.delivered, sb);
        return `${ms(s.attached - s.delivered)} (${inWindow.length} requests, ${ms(busy)} in requests, ${ms(s.attached - s.delivered - busy)} with none in flight, the longest ${ms(gap.ms)} between ${gap.between})`;
      })
      .join("; ")}.`,
  ].join("\n");
}
