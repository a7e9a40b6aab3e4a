/**
 * Audit upload benchmark: 100,000 records through the audit writer (redaction, hash chain) and
 * the Logs Ingestion transport (`@azure/monitor-ingestion`) to the sandbox's ingestion endpoint.
 * Prints a Markdown table and writes it into BENCHMARKS.md under "Audit upload".
 *
 *   npx tsx bench/audit-upload.ts [records]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { startSandbox } from "../sandbox/index.js";
import { ensureTls } from "../sandbox/tls.js";
import { MemoryChainStore } from "../shared/audit/ports.js";
import { AuditWriter } from "../shared/audit/writer.js";
import { LogsIngestionTransport } from "../shared/azure/logs-ingestion.js";

const N = Number(process.argv[2] ?? 100_000);
const LIMIT = 1_048_576;

if (!process.env.ROLLOVER_BENCH_STATE) {
  // Node reads NODE_EXTRA_CA_CERTS only at start: make the sandbox CA, then run again trusting it.
  const state = mkdtempSync(join(tmpdir(), "rollover-bench-"));
  const tls = await ensureTls(state);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caCertPath, ROLLOVER_BENCH_STATE: state },
  });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await run();
}

async function run(): Promise<void> {
  const sandbox = await startSandbox({
    azurite: false,
    log: () => {},
    stateDir: process.env.ROLLOVER_BENCH_STATE!,
  });
  const { ctx, urls } = sandbox;
  const credential: TokenCredential = {
    async getToken(): Promise<AccessToken> {
      const t = await ctx.tokens.issue({
        aud: "https://monitor.azure.com",
        iss: `https://sts.windows.net/${urls.tenantId}/`,
        tid: urls.tenantId,
        oid: ctx.managedIdentity.objectId,
        appid: ctx.managedIdentity.clientId,
      });
      return { token: t.token, expiresOnTimestamp: t.expiresOn * 1000 };
    },
  };
  const rows: string[] = [];
  try {
    for (const concurrency of [1, 5]) {
      ctx.logs.reset();
      const transport = new LogsIngestionTransport({
        endpoint: urls.logsIngestionEndpoint,
        ruleId: urls.dcrImmutableId,
        streamName: urls.streamName,
        credential,
        maxConcurrency: concurrency,
      });
      const writer = new AuditWriter({
        runId: "bench",
        trigger: "timer",
        actor: ctx.managedIdentity.objectId,
        writer: `bench-${concurrency}`,
        transport,
        chains: new MemoryChainStore(),
      });
      const started = performance.now();
      for (let i = 0; i < N; i++) {
        writer.emit({
          action: i % 2 ? "attach" : "sweepFinding",
          outcome: "succeeded",
          reason: i % 2 ? "AttachNewVersion" : "CredentialExpired",
          message: `Attached the new key of certificate app-cert-${i % 500} to the application`,
          dryRun: false,
          tenantId: urls.tenantId,
          targetType: "application",
          targetObjectId: `0f6b4c7e-0000-4000-8000-${String(i).padStart(12, "0")}`,
          targetAppId: `6d1c4f59-0000-4000-8000-${String(i).padStart(12, "0")}`,
          targetDisplayName: `contoso-app-${i % 500}`,
          vaultName: urls.vaultName,
          certificateName: `app-cert-${i % 500}`,
          certificateVersion: "0123456789abcdef0123456789abcdef",
          keyId: `a1b2c3d4-0000-4000-8000-${String(i).padStart(12, "0")}`,
          thumbprint: "3F2A9C0E5B7D1A4C6E8F0B2D4A6C8E0F1A3B5C7D",
          notBefore: "2026-01-01T00:00:00Z",
          notAfter: "2027-01-01T00:00:00Z",
        });
      }
      const emitted = performance.now();
      const result = await writer.flush();
      const done = performance.now();
      const stored = ctx.logs.records().length;
      if (result.sent !== N || stored !== N) throw new Error(`sent ${result.sent}, stored ${stored} of ${N}`);
      const calls = transport.stats.callBytes;
      const json = calls.map((c) => c.json);
      const wire = calls.map((c) => c.wire);
      const seconds = (done - started) / 1000;
      rows.push(
        `| ${N.toLocaleString("en-US")} | ${concurrency} | ${Math.round(N / seconds).toLocaleString("en-US")} | ` +
          `${seconds.toFixed(2)} s (emit ${((emitted - started) / 1000).toFixed(2)} s) | ${transport.stats.requests} | ` +
          `${Math.round(avg(json)).toLocaleString("en-US")} / ${Math.max(...json).toLocaleString("en-US")} (${pct(Math.max(...json))}) | ` +
          `${Math.round(avg(wire)).toLocaleString("en-US")} / ${Math.max(...wire).toLocaleString("en-US")} (${pct(Math.max(...wire))}) |`,
      );
    }
  } finally {
    await sandbox.close();
  }
  const table = [
    "| records | calls in flight | records/s | time | requests | JSON bytes per request, mean / max (of 1 MB) | gzip bytes on the wire, mean / max (of 1 MB) |",
    "|---:|---:|---:|---|---:|---|---|",
    ...rows,
  ].join("\n");
  const section = [
    "## Audit upload",
    "",
    `Reproduce: \`npx tsx bench/audit-upload.ts\` (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}). ` +
      "Records go through the audit writer (redaction, hash chain, in-memory chain store) and " +
      "`@azure/monitor-ingestion` to the sandbox's Logs Ingestion endpoint over HTTPS with a real token. " +
      `The service limit is 1 MB (${LIMIT.toLocaleString("en-US")} bytes) per call, compressed and uncompressed; ` +
      "the transport cuts calls at 999,000 bytes of JSON.",
    "",
    table,
    "",
  ].join("\n");
  process.stdout.write(`${section}\n`);
  writeSection(section);
}

function avg(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}
function pct(n: number): string {
  return `${((n / LIMIT) * 100).toFixed(1)} %`;
}

function writeSection(section: string): void {
  const path = join(import.meta.dirname, "..", "BENCHMARKS.md");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    text = "# Benchmarks\n\n";
  }
  const re = /## Audit upload\n[\s\S]*?(?=\n## |$)/;
  text = re.test(text) ? text.replace(re, section.trimEnd()) : `${text.trimEnd()}\n\n${section}`;
  writeFileSync(path, `${text.trimEnd()}\n`);
}
