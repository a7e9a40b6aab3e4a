import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type AuditRecord,
  type AuditTransport,
  AuditWriter,
  flushSpool,
  MemoryChainStore,
  MemorySpool,
  RedactionCounter,
  type SendResult,
  verifyChains,
} from "../../../shared/audit/index.js";

/** An ingestion endpoint in memory that can refuse, for the writer's own logic. */
class MemoryTransport implements AuditTransport {
  readonly received: AuditRecord[] = [];
  mode: "ok" | "down" | "reject" = "ok";
  async send(records: AuditRecord[]): Promise<SendResult> {
    if (this.mode === "down")
      return { accepted: [], failed: [{ records, status: 503, retryable: true, message: "down" }] };
    if (this.mode === "reject")
      return { accepted: [], failed: [{ records, status: 400, retryable: false, message: "bad" }] };
    this.received.push(...records);
    return { accepted: records, failed: [] };
  }
}

const ev = (message: string) => ({
  action: "attach" as const,
  outcome: "succeeded" as const,
  reason: "AttachNewVersion" as const,
  message,
});

describe("AuditWriter", () => {
  it("redacts every string field before it is sealed, and counts it", async () => {
    const transport = new MemoryTransport();
    const redaction = new RedactionCounter();
    const w = new AuditWriter({
      runId: "r",
      trigger: "cli",
      actor: "a",
      writer: "w",
      transport,
      chains: new MemoryChainStore(),
      redaction,
    });
    const pem = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;
    w.emit({
      ...ev(`failed with ${pem}`),
      targetDisplayName: "app eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl",
    });
    await w.close();
    const text = JSON.stringify(transport.received);
    expect(text).not.toMatch(/PRIVATE KEY|eyJhbGci/);
    expect(redaction.byKind).toMatchObject({ privateKey: 1, jwt: 1 });
    expect(verifyChains(transport.received).ok).toBe(true);
  });

  it("keeps refused records as rejected, pending ones for flushSpool, and the chain whole", async () => {
    const transport = new MemoryTransport();
    const spool = new MemorySpool();
    const chains = new MemoryChainStore();
    const w = new AuditWriter({
      runId: "r",
      trigger: "timer",
      actor: "a",
      writer: "w",
      transport,
      chains,
      spool,
    });
    w.emit(ev("1"));
    expect(await w.flush()).toEqual({ sent: 1, spooled: 0, rejected: 0 });
    transport.mode = "down";
    w.emit(ev("2"));
    w.emit(ev("3"));
    expect(await w.flush()).toEqual({ sent: 0, spooled: 2, rejected: 0 });
    transport.mode = "reject";
    w.emit(ev("4"));
    expect(await w.flush()).toEqual({ sent: 0, spooled: 0, rejected: 1 });
    transport.mode = "ok";
    expect(await flushSpool({ spool, transport })).toMatchObject({ sent: 2, remaining: 0 });
    expect(transport.received.map((r) => r.Sequence)).toEqual([1, 2, 3]);
    expect(await spool.counts()).toEqual({ pending: 0, rejected: 1 });
    const pending = new Map([["w", new Set((await spool.all()).map((s) => s.record.Sequence))]]);
    expect(verifyChains(transport.received, { heads: await chains.list(), pending }).ok).toBe(true);
  });

  it("throws when records can be neither sent nor stored, and sends them on the next flush", async () => {
    const transport = new MemoryTransport();
    transport.mode = "down";
    const w = new AuditWriter({
      runId: "r",
      trigger: "timer",
      actor: "a",
      writer: "w",
      transport,
      chains: new MemoryChainStore(),
    });
    w.emit(ev("1"));
    await expect(w.flush()).rejects.toThrow(/no spool/);
    expect(w.pendingCount).toBe(1);
    transport.mode = "ok";
    expect(await w.flush()).toMatchObject({ sent: 1 });
    expect(transport.received).toHaveLength(1);
  });

  it("writers of one process sharing a chain take consecutive positions", async () => {
    const transport = new MemoryTransport();
    const chains = new MemoryChainStore();
    const ws = [1, 2, 3].map(
      (i) =>
        new AuditWriter({ runId: `r${i}`, trigger: "timer", actor: "a", writer: "same", transport, chains }),
    );
    for (const w of ws) for (let i = 0; i < 5; i++) w.emit(ev(String(i)));
    await Promise.all(ws.map((w) => w.flush()));
    expect(verifyChains(transport.received).ok).toBe(true);
    expect(transport.received).toHaveLength(15);
  });
});
