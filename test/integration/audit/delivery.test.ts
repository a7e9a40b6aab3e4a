import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseFaultSpec } from "../../../sandbox/faults.js";
import {
  type AuditEvent,
  type AuditTrail,
  dedupeByRecordId,
  openAuditTrail,
  readAuditRecords,
  toRecord,
  verifyAudit,
} from "../../../shared/audit/index.js";
import { TableChainStore } from "../../../shared/azure/audit-spool.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox({ azurite: true });
let credential: TokenCredential;

function trail(overrides: Parameters<typeof openAuditTrail>[2] = {}): AuditTrail {
  const { env } = sb();
  return openAuditTrail(
    {
      logsIngestionEndpoint: env.ROLLOVER_LOGS_INGESTION_ENDPOINT,
      dcrImmutableId: env.ROLLOVER_DCR_IMMUTABLE_ID,
      dcrStreamName: env.ROLLOVER_DCR_STREAM_NAME!,
      storage: env.AzureWebJobsStorage,
      storageAccountName: undefined,
    },
    credential,
    {
      transport: { retryOptions: { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 200 } },
      ...overrides,
    },
  );
}

function events(n: number, tag = "run"): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    action: i % 3 === 0 ? "renew" : i % 3 === 1 ? "attach" : "verify",
    outcome: "succeeded",
    reason: "AttachNewVersion",
    message: `${tag} step ${i}`,
    tenantId: sb().urls.tenantId,
    targetObjectId: "11111111-0000-4000-8000-000000000001",
    vaultName: sb().urls.vaultName,
    certificateName: "app-cert",
    certificateVersion: "0123456789abcdef0123456789abcdef",
    thumbprint: "A".repeat(40),
    notBefore: "2026-01-01T00:00:00Z",
    notAfter: "2027-01-01T00:00:00Z",
  }));
}

function w2Records(writer: string) {
  const [e1, e2] = events(2);
  const ctx = {
    runId: "r",
    trigger: "cli" as const,
    actor: "x",
    writer: `${writer}-raw`,
    prevHash: "0".repeat(64),
  };
  const a = toRecord(e1!, { ...ctx, sequence: 1 });
  return [a, toRecord(e2!, { ...ctx, sequence: 2, prevHash: a.Hash })] as const;
}

const source = () => ({
  kind: "sandbox" as const,
  controlUrl: sb().urls.controlUrl,
  stream: sb().urls.streamName,
});
const stored = async (writer?: string) =>
  (await readAuditRecords(source())).filter((r) => !writer || r.Writer === writer);

beforeAll(() => {
  const { env } = sb();
  process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
  credential = new ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID! });
});

afterEach(async () => {
  sb().ctx.faults.clear();
  const t = trail();
  await t.flushSpool();
  sb().ctx.logs.reset();
});

describe("audit delivery against the sandbox and Azurite", () => {
  it("a whole run's records arrive in order, verify passes, and the chain goes on after a restart", async () => {
    const t = trail();
    const writer = `run-${randomUUID().slice(0, 8)}`;
    const w = t.writer({
      runId: randomUUID(),
      trigger: "timer",
      actor: sb().ctx.managedIdentity.objectId,
      writer,
    });
    for (const e of events(40)) w.emit(e);
    expect(await w.close()).toEqual({ sent: 40, spooled: 0, rejected: 0 });
    const rows = await stored(writer);
    expect(rows.map((r) => r.Sequence)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(rows[0]).toMatchObject({
      Trigger: "timer",
      Action: "renew",
      DryRun: false,
      TargetTenantId: sb().urls.tenantId,
    });

    // A new process: new clients, the chain's head read back from storage.
    const t2 = trail();
    const w2 = t2.writer({ runId: randomUUID(), trigger: "eventGrid", actor: "x", writer });
    for (const e of events(5, "after restart")) w2.emit(e);
    await w2.flush();
    const all = await stored(writer);
    expect(all.map((r) => r.Sequence)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    const v = await verifyAudit(source(), { chains: t2.chains, spool: t2.spool, writers: [writer] });
    expect(v.exitCode, v.text).toBe(0);
    expect(v.text).toMatch(/audit trail whole/);
  });

  it("concurrent writers each keep their own chain; writers sharing a chain never take the same position", async () => {
    const a = trail();
    const b = trail(); // another process: its own clients and chain cache
    const shared = `shared-${randomUUID().slice(0, 8)}`;
    const writers = [
      a.writer({ runId: "r1", trigger: "timer", actor: "x", writer: `own-a-${shared}` }),
      b.writer({ runId: "r2", trigger: "eventGrid", actor: "x", writer: `own-b-${shared}` }),
      a.writer({ runId: "r3", trigger: "timer", actor: "x", writer: shared }),
      b.writer({ runId: "r4", trigger: "alert", actor: "x", writer: shared }),
    ];
    for (const w of writers) for (const e of events(15)) w.emit(e);
    await Promise.all(writers.map((w) => w.flush()));
    const v = await verifyAudit(source(), {
      chains: a.chains,
      writers: [shared, `own-a-${shared}`, `own-b-${shared}`],
    });
    expect(v.exitCode, v.text).toBe(0);
    const sharedRows = await stored(shared);
    expect(sharedRows).toHaveLength(30);
    expect(new Set(sharedRows.map((r) => r.Sequence)).size).toBe(30);
  });

  it("ingestion down for the whole run: nothing lost, all arrive after recovery, none twice", async () => {
    const t = trail();
    const writer = `down-${randomUUID().slice(0, 8)}`;
    sb().ctx.faults.set(parseFaultSpec("logs=down"));
    const w = t.writer({ runId: randomUUID(), trigger: "timer", actor: "x", writer });
    for (const e of events(25)) w.emit(e);
    expect(await w.close()).toEqual({ sent: 0, spooled: 25, rejected: 0 });
    expect(await stored(writer)).toHaveLength(0);
    expect((await t.spool.counts()).pending).toBe(25);
    // Still down: the timer tries and keeps them.
    expect((await t.flushSpool()).sent).toBe(0);
    expect((await t.spool.counts()).pending).toBe(25);
    // Whatever waits in the spool is not missing.
    expect(
      (await verifyAudit(source(), { chains: t.chains, spool: t.spool, writers: [writer] })).exitCode,
    ).toBe(0);

    sb().ctx.faults.clear();
    const flushed = await t.flushSpool();
    expect(flushed).toMatchObject({ sent: 25, remaining: 0 });
    const rows = await stored(writer);
    expect(rows.map((r) => r.Sequence)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.RecordId)).size).toBe(25);
    expect((await t.flushSpool()).sent).toBe(0);
    expect(await stored(writer)).toHaveLength(25);
    const v = await verifyAudit(source(), { chains: t.chains, spool: t.spool, writers: [writer] });
    expect(v.exitCode, v.text).toBe(0);
  });

  it("a crash between upload and the storage delete sends records twice; the RecordId dedupe keeps each once", async () => {
    const t = trail();
    const writer = `crash-${randomUUID().slice(0, 8)}`;
    sb().ctx.faults.set(parseFaultSpec("logs=down"));
    const w = t.writer({ runId: randomUUID(), trigger: "timer", actor: "x", writer });
    for (const e of events(30)) w.emit(e);
    await w.close();
    sb().ctx.faults.clear();

    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("./crash-child.ts", import.meta.url))],
      { env: { ...process.env, ...sb().env, ROLLOVER_TEST_CRASH_AT: "after-upload" }, stdio: "pipe" },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_c, s) => resolve(s)),
    );
    expect(signal, stderr).toBe("SIGKILL");
    expect(await stored(writer)).toHaveLength(10); // the first batch went in
    expect((await t.spool.counts()).pending).toBe(30); // and was not deleted

    expect((await t.flushSpool()).sent).toBe(30);
    const rows = await stored(writer);
    expect(rows).toHaveLength(40);
    const { records, duplicates } = dedupeByRecordId(rows);
    expect(duplicates).toBe(10);
    expect(records.map((r) => r.Sequence)).toEqual(
      expect.arrayContaining(Array.from({ length: 30 }, (_, i) => i + 1)),
    );
    expect(new Set(records.map((r) => r.RecordId)).size).toBe(30);
    const v = await verifyAudit(source(), { chains: t.chains, writers: [writer] });
    expect(v.exitCode, v.text).toBe(0);
    expect(v.report.duplicates).toBe(10);
  });

  it("429: retried by the SDK; throttled past its retries, spooled and sent later", async () => {
    const writer = `throttle-${randomUUID().slice(0, 8)}`;
    const t = trail({ transport: { retryOptions: { maxRetries: 3, retryDelayInMs: 20 } } });
    sb().ctx.faults.set(parseFaultSpec("logs=429x2/1"));
    const w = t.writer({ runId: randomUUID(), trigger: "timer", actor: "x", writer });
    for (const e of events(5)) w.emit(e);
    expect(await w.flush()).toEqual({ sent: 5, spooled: 0, rejected: 0 });
    expect(sb().ctx.faults.hits.get("429")).toBe(2);

    const t1 = trail({ transport: { retryOptions: { maxRetries: 1, retryDelayInMs: 20 } } });
    sb().ctx.faults.set(parseFaultSpec("logs=429/1"));
    const w1 = t1.writer({ runId: randomUUID(), trigger: "timer", actor: "x", writer });
    for (const e of events(5)) w1.emit(e);
    expect(await w1.flush()).toEqual({ sent: 0, spooled: 5, rejected: 0 });
    sb().ctx.faults.clear();
    expect((await t1.flushSpool()).sent).toBe(5);
    expect((await stored(writer)).map((r) => r.Sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("413: an oversized message is cut to fit; a record over 1 MB is refused and reported as not retryable", async () => {
    const writer = `big-${randomUUID().slice(0, 8)}`;
    const t = trail();
    const w = t.writer({ runId: randomUUID(), trigger: "cli", actor: "x", writer });
    const huge = "lorem ipsum ".repeat(200_000); // 2.4 MB
    w.emit({ ...events(1)[0]!, message: huge });
    expect(await w.flush()).toMatchObject({ sent: 1 });
    expect(String((await stored(writer))[0]!.Message).length).toBe(4096);

    // A record over 1 MB (only a caller bypassing the writer's limits can make one): the
    // service answers 413, the transport reports it as not worth retrying, the rest goes in.
    const [a, b] = w2Records(writer);
    const result = await t.transport.send([a, { ...b, Message: huge }]);
    expect(result.accepted.map((r) => r.RecordId)).toEqual([a.RecordId]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({
      status: 413,
      code: "ContentLengthLimitExceeded",
      retryable: false,
    });
  });

  it("a record edited or deleted in the store: verify names it", async () => {
    const t = trail();
    const writer = `tamper-${randomUUID().slice(0, 8)}`;
    const w = t.writer({ runId: randomUUID(), trigger: "timer", actor: "x", writer });
    for (const e of events(10)) w.emit(e);
    await w.close();
    const base = sb().urls.controlUrl;
    const rows = await stored(writer);
    expect((await verifyAudit(source(), { chains: t.chains, writers: [writer] })).exitCode).toBe(0);

    let res = await fetch(`${base}/logs/3`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ Outcome: "skipped" }),
    });
    expect(res.status).toBe(200);
    let v = await verifyAudit(source(), { chains: t.chains, writers: [writer] });
    expect(v.exitCode).toBe(1);
    const chain = v.report.chains.find((c) => c.writer === writer)!;
    expect(chain.firstBroken).toMatchObject({ kind: "edited", sequence: 4, recordId: rows[3]!.RecordId });
    expect(v.text).toContain(`first broken: record 4`);

    res = await fetch(`${base}/logs/1`, { method: "DELETE" });
    expect(res.status).toBe(204);
    v = await verifyAudit(source(), { chains: t.chains, writers: [writer] });
    const c2 = v.report.chains.find((c) => c.writer === writer)!;
    expect(c2.firstBroken).toMatchObject({ kind: "gap", sequence: 3, missing: [2, 2] });

    // Deleting the last record: only the stored head shows it.
    const count = (await stored()).length;
    await fetch(`${base}/logs/${count - 1}`, { method: "DELETE" });
    v = await verifyAudit(source(), {
      chains: new TableChainStore({ connectionString: sb().env.AzureWebJobsStorage! }),
      writers: [writer],
    });
    expect(v.report.chains.find((c) => c.writer === writer)!.problems.map((p) => p.kind)).toContain(
      "truncated",
    );
  });
});
