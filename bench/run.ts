/**
 * `npm run bench`: sweep, incremental sweep, cold start and rotation benchmarks, with the figures
 * written into BENCHMARKS.md (between the bench:run markers; other sections are kept).
 *
 * The sandbox runs in this process; what is measured runs in child processes, so each peak
 * memory figure is Rollover's alone. Requests are counted at the sandbox, per service. Every
 * figure is the median of BENCH_REPS runs (default 3); ratios are measured side by side here.
 *
 *   BENCH_SIZES=1000,100000,1000000  BENCH_REPS=3  BENCH_COLD_REPS=9  BENCH_BINDINGS=1000  npm run bench
 *
 * BENCH_ONLY=sweep,cold,rotation,events picks the parts (default all); their sections of
 * BENCHMARKS.md are replaced, the others kept. BENCH_ROTATION_REPS (default BENCH_REPS) repeats the
 * rotation. BENCH_INCREMENTAL_MAX (default 100000): the largest size also swept incrementally.
 * Event to attached (bench/events.ts): BENCH_EVENTS=100 events, BENCH_EVENT_GAP_MS=100
 * between them. A reduced run while working, e.g.:
 *
 *   BENCH_ONLY=rotation BENCH_BINDINGS=100 BENCH_ROTATION_REPS=1 npx tsx bench/run.ts
 *   BENCH_ONLY=events BENCH_EVENTS=20 npx tsx bench/run.ts
 *
 * (restore BENCHMARKS.md before committing figures of a reduced run).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { parseFaultSpec } from "../sandbox/faults.js";
import { type SandboxHandle, startSandbox } from "../sandbox/index.js";
import type { SandboxVault } from "../sandbox/keyvault/store.js";
import { parseSeedName, scaleObjectId, seedTenant } from "../sandbox/seeds.js";
import { eventLatency, seedDueBinding } from "./events.js";
import { mergeSections, PARTS as SECTIONS } from "./sections.js";

const ROOT = resolve(import.meta.dirname, "..");
const SIZES = (process.env.BENCH_SIZES ?? "1000,100000,1000000").split(",").map(Number);
const REPS = Number(process.env.BENCH_REPS ?? "3");
const ROTATION_REPS = Number(process.env.BENCH_ROTATION_REPS ?? process.env.BENCH_REPS ?? "3");
const COLD_REPS = Number(process.env.BENCH_COLD_REPS ?? "9");
const BINDINGS = Number(process.env.BENCH_BINDINGS ?? "1000");
const EVENTS = Number(process.env.BENCH_EVENTS ?? "100");
const INCREMENTAL_MAX = Number(process.env.BENCH_INCREMENTAL_MAX ?? "100000");
const EVENT_GAP_MS = Number(process.env.BENCH_EVENT_GAP_MS ?? "100");
const LATENCY = "graph=latency/20;keyvault=latency/20";
const DAY = 86_400_000;

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

/**
 * The measured scripts, bundled the way the Functions app is (esbuild, one ESM file), so a child
 * process carries no TypeScript loader: its memory and start-up are Rollover's.
 */
async function bundleChildren(): Promise<void> {
  await build({
    entryPoints: [
      join(ROOT, "bench/sweep-child.ts"),
      join(ROOT, "bench/rotation-child.ts"),
      join(ROOT, "bench/events-child.ts"),
    ],
    outdir: join(ROOT, "dist/bench"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: ["@azure/functions-core"],
    banner: {
      js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
}

function child<T>(
  sb: SandboxHandle,
  script: string,
  env: Record<string, string> = {},
  nodeArgs: readonly string[] = [],
): Promise<T> {
  const bundled = join(ROOT, "dist", script.replace(/\.ts$/, ".mjs"));
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [...nodeArgs, bundled], {
      cwd: ROOT,
      env: { ...process.env, ...sb.env, BENCH_CLOCK_OFFSET_MS: String(sb.ctx.clock.offset), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
    });
    p.stderr.on("data", (c: Buffer) => {
      err += c.toString("utf8");
    });
    p.once("exit", (code) => {
      const line = out.trim().split("\n").at(-1);
      if (code !== 0 || !line) rej(new Error(`${script} exited ${code}: ${err.slice(-3000)}`));
      else res(JSON.parse(line) as T);
    });
  });
}

async function reseed(sb: SandboxHandle, seed: string): Promise<void> {
  await seedTenant(sb.ctx, parseSeedName(seed));
}

/**
 * V8 options of the sweep process. The sweep keeps nothing per object across pages (its heap
 * after a full collection is the same, about 26 MiB, on the first page and the last of 1,000,000
 * applications), but by default V8 lets the old generation grow to about four times the live
 * heap before collecting, and doubles the young generation's semi-spaces to 16 MiB, on any run
 * long enough: a long sweep's peak RSS then sits some 100 MiB above a short one's. Semi-spaces of
 * at most 4 MiB and a heap that grows by a fifth between collections keep the peak where one page
 * puts it (measured at 100,000 applications: 125 instead of 214 MiB, for about a quarter more
 * CPU time and the same wall time: the sweep waits on Graph).
 * Empty (BENCH_SWEEP_NODE_ARGS=) measures Node's defaults.
 */
const SWEEP_NODE_ARGS = (
  process.env.BENCH_SWEEP_NODE_ARGS ?? "--max-semi-space-size=4 --heap-growing-percent=20"
)
  .split(" ")
  .filter(Boolean);

interface SweepOut {
  wallMs: number;
  maxRssKiB: number;
  pages: number;
  targets: Record<string, number>;
  kinds: Record<string, string>;
  events: number;
}

/** One sweep in its own process, on SWEEP_NODE_ARGS; `incremental` through /delta. */
function sweepChild(sb: SandboxHandle, incremental: boolean): Promise<SweepOut> {
  return child<SweepOut>(
    sb,
    "bench/sweep-child.ts",
    incremental ? { BENCH_INCREMENTAL: "1" } : {},
    SWEEP_NODE_ARGS,
  );
}

async function sweeps(sb: SandboxHandle): Promise<string> {
  const full: string[] = [];
  const incr: string[] = [];
  let rssBase: number | undefined;
  for (const n of SIZES) {
    log(`sweep: seeding scale:${n}`);
    await reseed(sb, `scale:${n}`);
    sb.ctx.faults.set(parseFaultSpec(LATENCY));
    const runs: Array<SweepOut & { graph: number }> = [];
    for (let i = 0; i < REPS; i++) {
      sb.requestCounts.reset();
      const o = await sweepChild(sb, false);
      runs.push({ ...o, graph: sb.requestCounts.get().graph ?? 0 });
      log(`sweep ${n}: ${fmt(o.wallMs)} ms, ${runs.at(-1)!.graph} Graph requests, ${mib(o.maxRssKiB)}`);
    }
    const t = runs[0]!.targets;
    const bound = Math.ceil((t.applications ?? 0) / 999) + Math.ceil((t.servicePrincipals ?? 0) / 999);
    const graph = median(runs.map((r) => r.graph));
    const rss = median(runs.map((r) => r.maxRssKiB));
    // Memory flat in tenant size: peak RSS against the smallest size's (target ≤ 1.10).
    rssBase ??= rss;
    full.push(
      `| ${fmt(n)} | ${fmt(t.applications ?? 0)} + ${fmt(t.servicePrincipals ?? 0)} | ${fmt(graph)} | ${bound} + 0 | ${(graph / bound).toFixed(3)} | ${secs(median(runs.map((r) => r.wallMs)))} | ${mib(rss)} | ${(rss / rssBase).toFixed(2)} |`,
    );

    // Incremental: a first sweep through /delta keeps the links; then 1 % of the applications
    // change (a new secret each) and the next sweep reads only what changed. Above
    // BENCH_INCREMENTAL_MAX applications it is left out (two more passes over the whole tenant).
    if (n > INCREMENTAL_MAX) {
      log(`incremental ${n}: left out (BENCH_INCREMENTAL_MAX=${INCREMENTAL_MAX})`);
      continue;
    }
    sb.requestCounts.reset();
    const first = await sweepChild(sb, true);
    const firstGraph = sb.requestCounts.get().graph ?? 0;
    const changed = Math.max(1, Math.floor(n / 100));
    const inc: Array<SweepOut & { graph: number }> = [];
    for (let i = 0; i < REPS; i++) {
      const now = sb.ctx.clock.now();
      for (let k = 0; k < changed; k++) {
        const index = ((i * changed + k) % n) + 1;
        sb.ctx.directory.addPasswordCredential(sb.urls.tenantId, scaleObjectId(index), {
          endDateTime: new Date(now + 90 * DAY).toISOString(),
        });
      }
      sb.requestCounts.reset();
      const o = await sweepChild(sb, true);
      inc.push({ ...o, graph: sb.requestCounts.get().graph ?? 0 });
      log(
        `incremental ${n}: ${inc.at(-1)!.graph} Graph requests for ${changed} changes (${JSON.stringify(o.kinds)})`,
      );
    }
    const g = median(inc.map((r) => r.graph));
    const targets = median(
      inc.map((r) => (r.targets.applications ?? 0) + (r.targets.servicePrincipals ?? 0)),
    );
    incr.push(
      `| ${fmt(n)} | ${fmt(changed)} | ${fmt(firstGraph)} (${Object.values(first.kinds).join("/")}) | ${fmt(g)} | ${fmt(targets)} | ${Math.ceil(changed / 999) + 1} | ${secs(median(inc.map((r) => r.wallMs)))} | ${Object.values(inc[0]!.kinds).join("/")} |`,
    );
  }
  sb.ctx.faults.clear();
  return [
    "### Full sweep",
    "",
    `The sweep process runs as \`node ${[...SWEEP_NODE_ARGS, "…"].join(" ")}\` (BENCH_SWEEP_NODE_ARGS).`,
    "",
    `| applications | targets read (apps + service principals) | Graph requests (median) | lower bound ceil(N/999) per collection + mutations | requests / bound | wall time (median) | peak RSS of the sweep process (median) | peak RSS / the ${fmt(SIZES[0]!)}-application figure (target ≤ 1.10) |`,
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...full,
    "",
    "### Incremental sweep after 1 % of the applications change",
    "",
    "| applications | changed | first /delta sweep: Graph requests (kind) | incremental sweep: Graph requests (median) | targets read | lower bound: pages the changes fill (+1 for the unchanged collection) | wall time (median) | kind |",
    "|---:|---:|---:|---:|---:|---:|---:|---|",
    ...incr,
  ].join("\n");
}

function coldStart(): string {
  log("cold start: npm run build, and tsc output for the unbundled case");
  const build = spawnSync("npm", ["run", "-s", "build"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) return `Cold start not measured: npm run build failed: ${build.stderr.slice(-500)}`;
  const unbundledDir = join(ROOT, "dist", "unbundled");
  rmSync(unbundledDir, { recursive: true, force: true });
  const tsc = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json", "--outDir", unbundledDir], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const bundled = join(ROOT, "dist", "app", "index.js");
  const unbundled = join(unbundledDir, "functions", "index.js");
  if (tsc.status !== 0 || !existsSync(unbundled) || !existsSync(bundled))
    return `Cold start not measured: ${tsc.stdout.slice(-500)}`;
  const measure = (file: string) => {
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(JSON.stringify({importMs:performance.now()-t}));process.exit(0);`,
      ],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, FUNCTIONS_WORKER_RUNTIME: "node" } },
    );
    const wall = performance.now() - t0;
    const line = r.stdout.trim().split("\n").at(-1) ?? "{}";
    return { importMs: (JSON.parse(line) as { importMs?: number }).importMs ?? Number.NaN, wall };
  };
  const b: Array<{ importMs: number; wall: number }> = [];
  const u: Array<{ importMs: number; wall: number }> = [];
  measure(bundled);
  measure(unbundled); // warm the file system cache for both
  for (let i = 0; i < COLD_REPS; i++) {
    b.push(measure(bundled));
    u.push(measure(unbundled));
  }
  const bi = median(b.map((x) => x.importMs));
  const ui = median(u.map((x) => x.importMs));
  const bw = median(b.map((x) => x.wall));
  const uw = median(u.map((x) => x.wall));
  return [
    `Median of ${COLD_REPS} fresh \`node\` processes each, alternating. Bundled: \`npm run build\` (dist/app/index.js, esbuild). Unbundled: the same sources compiled by \`tsc -p tsconfig.build.json\` (dist/unbundled/functions/index.js, resolving node_modules).`,
    "",
    "| entry | import of functions/index (median) | process start to exit (median) |",
    "|---|---:|---:|",
    `| bundled | ${fmt(bi)} ms | ${fmt(bw)} ms |`,
    `| unbundled | ${fmt(ui)} ms | ${fmt(uw)} ms |`,
    `| ratio unbundled / bundled | ${(ui / bi).toFixed(2)}× | ${(uw / bw).toFixed(2)}× |`,
  ].join("\n");
}

/**
 * The fewest requests per service the real services need for what one rotation run does here (a
 * due binding, self mode, one tenant: renew, attach, verify), as counted in docs/design.md,
 * "Requests: the lower bound". Rollover's own managed identity token is one per resource per
 * process, so none per binding.
 */
const ROTATION_BOUND: Record<string, number> = { keyvault: 9, graph: 2, entra: 2, msi: 0 };

interface RotationOut {
  wallMs: number;
  maxRssKiB: number;
  bindings: number;
  counts: Record<string, number>;
  concurrency: number;
}

async function rotation(sb: SandboxHandle): Promise<string> {
  const vault = sb.ctx.vault as unknown as SandboxVault;
  const rows: string[] = [];
  const results: Array<RotationOut & { requests: Record<string, number>; seedMs: number }> = [];
  // Every certificate gets a new X.509 certificate on one of 16 RSA keys made up front: the
  // figure is Rollover's, not the sandbox's key generation. Key Vault issues at once.
  await vault.recycleKeys(16);
  vault.issuanceDelayMs = 0;
  for (let rep = 0; rep < ROTATION_REPS; rep++) {
    await reseed(sb, "empty");
    const t0 = performance.now();
    const now = sb.ctx.clock.now();
    for (let i = 0; i < BINDINGS; i++) await seedDueBinding(sb, vault, `bench-${rep}-${i}`, now);
    const seedMs = performance.now() - t0;
    sb.ctx.faults.set(parseFaultSpec(LATENCY));
    sb.requestCounts.reset();
    const o = await child<RotationOut>(sb, "bench/rotation-child.ts");
    sb.ctx.faults.clear();
    results.push({ ...o, requests: sb.requestCounts.get(), seedMs });
    log(
      `rotation: ${o.bindings} bindings in ${fmt(o.wallMs)} ms, ${JSON.stringify(o.counts)}, ${mib(o.maxRssKiB)}`,
    );
  }
  await vault.recycleKeys(undefined);
  vault.issuanceDelayMs = 250;
  const per = (svc: string) => median(results.map((r) => (r.requests[svc] ?? 0) / r.bindings));
  // Requests to the services Rollover talks to, those of the bound (the counts under
  // `service:write` are a subset of their service's; the sandbox's control API is none of them).
  const total = median(
    results.map(
      (r) => Object.keys(ROTATION_BOUND).reduce((a, svc) => a + (r.requests[svc] ?? 0), 0) / r.bindings,
    ),
  );
  const r0 = results[0]!;
  const boundTotal = Object.values(ROTATION_BOUND).reduce((a, b) => a + b, 0);
  // Entra's writes are the token requests (POST); its reads are MSAL's OpenID metadata, which it
  // reads only for a custom authority such as the sandbox (built in for Microsoft's clouds).
  const metadata = median(
    results.map((r) => ((r.requests.entra ?? 0) - (r.requests["entra:write"] ?? 0)) / r.bindings),
  );
  const services: Array<[string, string, number]> = [
    ["keyvault", "Key Vault", per("keyvault")],
    ["graph", "Graph", per("graph")],
    ["entra", "Entra token requests", per("entra:write")],
    ["", "Entra OpenID metadata (custom authority only)", metadata],
    ["msi", "managed identity", per("msi")],
  ];
  const perService = services.map(([svc, label, m]) => {
    const b = ROTATION_BOUND[svc] ?? 0;
    return `| ${label} | ${m.toFixed(2)} | ${b} | ${b ? (m / b).toFixed(2) : "—"} |`;
  });
  rows.push(
    `| ${fmt(r0.bindings)} | ${r0.concurrency} | ${secs(median(results.map((r) => r.wallMs)))} | ${total.toFixed(1)} (Graph ${per("graph").toFixed(1)}, Key Vault ${per("keyvault").toFixed(1)}, Entra ${per("entra").toFixed(1)}, managed identity ${per("msi").toFixed(2)}) | ${mib(median(results.map((r) => r.maxRssKiB)))} | ${JSON.stringify(r0.counts)} | ${secs(median(results.map((r) => r.seedMs)))} |`,
  );
  return [
    `Each binding is due (25 days left of 365), self mode; one run renews, attaches and verifies it (the old key waits out the grace window). Median of ${ROTATION_REPS} run(s), each on a freshly seeded tenant. Seeding: one certificate per binding, each a new X.509 certificate on one of 16 RSA keys made up front (key generation is the sandbox's cost, not Rollover's); Key Vault issues renewals at once (issuance delay 0).`,
    "",
    "| bindings | concurrency (ROLLOVER_CONCURRENCY) | wall time (median) | requests per binding | peak RSS (median) | outcomes | seeding time |",
    "|---:|---:|---:|---|---:|---|---:|",
    ...rows,
    "",
    'Requests per binding beside the lower bound of this run (renew, attach and verify in self mode; docs/design.md, "Requests: the lower bound"):',
    "",
    "| service | measured per binding (median) | lower bound | measured / bound |",
    "|---|---:|---:|---:|",
    ...perService,
    `| all | ${total.toFixed(2)} | ${boundTotal} | ${(total / boundTotal).toFixed(2)} |`,
    `| all but the OpenID metadata | ${(total - metadata).toFixed(2)} | ${boundTotal} | ${((total - metadata) / boundTotal).toFixed(2)} |`,
  ].join("\n");
}

const START = "<!-- bench:run.ts:start -->";
const END = "<!-- bench:run.ts:end -->";

/** The parts BENCH_ONLY can name, in the order they run. */
const PARTS: string[] = SECTIONS.map((p) => p.name);

async function main(): Promise<void> {
  const unknown = (process.env.BENCH_ONLY ?? "")
    .split(",")
    .filter((p) => p.trim() && !PARTS.includes(p.trim()));
  if (unknown.length) {
    process.stderr.write(
      `BENCH_ONLY: unknown part(s) ${unknown.join(", ")}; the parts are ${PARTS.join(", ")}\n`,
    );
    process.exit(2);
  }
  await bundleChildren();
  const sb = await startSandbox({ seed: "empty", azurite: true, log: () => {} });
  const started = new Date();
  try {
    const parts: string[] = [];
    const only = (process.env.BENCH_ONLY ?? PARTS.join(",")).split(",").map((p) => p.trim());
    if (only.includes("sweep")) parts.push("## Sweep", "", await sweeps(sb), "");
    if (only.includes("cold")) parts.push("## Cold start of the Functions entry", "", coldStart(), "");
    if (only.includes("rotation"))
      parts.push(`## Rotation of ${fmt(BINDINGS)} bindings`, "", await rotation(sb), "");
    if (only.includes("events"))
      parts.push(
        "## Event to attached",
        "",
        await eventLatency(sb, { root: ROOT, events: EVENTS, gapMs: EVENT_GAP_MS, latency: LATENCY, log }),
        "",
      );
    const header = [
      START,
      `Reproduce: \`npm run bench\` (Node ${process.version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${started.toISOString().slice(0, 10)}). The sandbox runs in the benchmark process with ${"`"}${LATENCY}${"`"} (20 ms added to every Graph and Key Vault request); what is measured runs in its own child process. Requests are counted at the sandbox.`,
      "",
    ];
    const file = join(ROOT, "BENCHMARKS.md");
    const text = readFileSync(file, "utf8");
    // A run of some parts replaces their sections and keeps the others as they were.
    const partial = PARTS.some((p) => !only.includes(p));
    const kept =
      partial && text.includes(START) && text.includes(END)
        ? mergeSections(text.slice(text.indexOf(START), text.indexOf(END)), parts.join("\n"), only)
        : parts.join("\n");
    if (partial)
      header.push(
        `This run: ${only.join(", ")} (BENCH_ONLY); the other sections are kept from an earlier run.`,
        "",
      );
    const body = [...header, kept, END].join("\n");
    const next =
      text.includes(START) && text.includes(END)
        ? text.slice(0, text.indexOf(START)) + body + text.slice(text.indexOf(END) + END.length)
        : `${text.trimEnd()}\n\n${body}\n`;
    writeFileSync(file, next);
    process.stdout.write(`${body}\n`);
  } finally {
    await sb.close();
  }
}

await main();
