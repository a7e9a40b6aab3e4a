/**
 * Chain heads and signed checkpoints: what `audit verify` concludes with them (pure checks of
 * verifyChains/verifyAudit over in-memory stores; the Key Vault key is played by a local RSA key).
 */
import { createSign, generateKeyPairSync, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type AuditRecord,
  type AuditTransport,
  AuditWriter,
  type CheckpointSigner,
  type CheckpointVerifier,
  MemoryChainStore,
  MemorySpool,
  type SendResult,
} from "../../../shared/audit/index.js";
import { toRecord } from "../../../shared/audit/record.js";
import { verifyAudit } from "../../../shared/audit/verify.js";

class Sink implements AuditTransport {
  readonly received: AuditRecord[] = [];
  down = false;
  async send(records: AuditRecord[]): Promise<SendResult> {
    if (this.down)
      return { accepted: [], failed: [{ records, status: 503, retryable: true, message: "down" }] };
    this.received.push(...records);
    return { accepted: records, failed: [] };
  }
}

const KID = "https://kv.vault.azure.net/keys/rollover-audit-signing/v1";
function localKey(kid = KID): CheckpointSigner & CheckpointVerifier & { fail: boolean } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const k = {
    fail: false,
    async sign(message: Uint8Array) {
      if (k.fail) throw new Error("Key Vault unavailable");
      const s = createSign("sha256").update(message).sign(privateKey);
      return { kid, alg: "RS256", signature: s.toString("base64url") };
    },
    async verify(message: Uint8Array, c: { kid: string; alg: string; signature: string }) {
      return c.kid === KID && verify("sha256", message, publicKey, Buffer.from(c.signature, "base64url"));
    },
  };
  return k;
}

const ev = (message: string) => ({
  action: "attach" as const,
  outcome: "succeeded" as const,
  reason: "AttachNewVersion" as const,
  message,
});

async function written(key = localKey()) {
  const transport = new Sink();
  const chains = new MemoryChainStore();
  const spool = new MemorySpool();
  const w = new AuditWriter({
    runId: "r",
    trigger: "timer",
    actor: "rollover",
    writer: "w1",
    transport,
    chains,
    spool,
    signer: key,
  });
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < 3; i++) w.emit(ev(`batch ${b} record ${i}`));
    await w.flush();
  }
  return { transport, chains, spool, key, w };
}

const check = (t: Sink, x: Awaited<ReturnType<typeof written>>, extra = {}) =>
  verifyAudit(
    { kind: "records", records: t.received as never },
    { chains: x.chains, spool: x.spool, verifier: x.key, ...extra },
  );

describe("signed chain heads", () => {
  it("a whole trail verifies; each batch's checkpoint is signed", async () => {
    const x = await written();
    const heads = await x.chains.list();
    expect(heads).toEqual([
      expect.objectContaining({
        writer: "w1",
        sequence: 9,
        signed: expect.objectContaining({ sequence: 9, kid: KID }),
      }),
    ]);
    expect((await check(x.transport, x)).exitCode).toBe(0);
  });

  it("records in the spool are read too, so a delivery still pending is not a gap", async () => {
    const x = await written();
    x.transport.down = true;
    x.w.emit(ev("waits in the spool"));
    await x.w.flush();
    const r = await check(x.transport, x);
    expect(r.exitCode, r.text).toBe(0);
  });

  it("a head signed by another key, or not at all, fails", async () => {
    const x = await written();
    const other = localKey("https://evil.vault.azure.net/keys/k/v1");
    const r1 = await check(x.transport, x, { verifier: other });
    expect(r1.report.problems.map((p) => p.kind)).toContain("unsigned");
    const y = await written();
    const none = await verifyAudit(
      { kind: "records", records: y.transport.received as never },
      { chains: y.chains, verifier: y.key, spool: y.spool },
    );
    expect(none.exitCode).toBe(0);
    // The same trail written without a signer: its head carries no checkpoint.
    const transport = new Sink();
    const chains = new MemoryChainStore();
    const w = new AuditWriter({ runId: "r", trigger: "timer", actor: "a", writer: "w2", transport, chains });
    w.emit(ev("x"));
    await w.flush();
    const r2 = await verifyAudit(
      { kind: "records", records: transport.received as never },
      { chains, verifier: y.key },
    );
    expect(r2.report.problems.map((p) => p.kind)).toEqual(["unsigned"]);
  });

  it("signing is best effort: a batch Key Vault could not sign keeps the last signed checkpoint", async () => {
    const x = await written();
    x.key.fail = true;
    x.w.emit(ev("unsigned batch"));
    await x.w.flush();
    const [head] = await x.chains.list();
    expect(head).toMatchObject({ sequence: 10, signed: { sequence: 9 } });
    expect((await check(x.transport, x)).exitCode).toBe(0);
  });

  it("a head from before signing existed: whole history reports it, a window after the upgrade does not", async () => {
    const x = await written();
    // An instance that wrote before the upgrade: head saved without checkpoint or time.
    await x.chains.save("old-instance", { sequence: 0, hash: "0".repeat(64) }, { sequence: 0, hash: "" });
    const whole = await check(x.transport, x);
    expect(whole.report.problems.map((p) => `${p.writer}:${p.kind}`)).toEqual(["old-instance:unsigned"]);
    const since = new Date(Date.parse(String(x.transport.received[0]!.TimeGenerated)) - 1000);
    const windowed = await check(x.transport, x, { since });
    expect(windowed.exitCode, windowed.text).toBe(0);
  });

  it("a replaced tail fails even when it links: the signed checkpoint names another record", async () => {
    const x = await written();
    const kept = x.transport.received.slice(0, 8);
    const prev = kept.at(-1)!;
    const fake = toRecord(ev("forged"), {
      runId: "r",
      trigger: "timer",
      actor: "rollover",
      writer: "w1",
      sequence: 9,
      prevHash: prev.Hash,
    });
    const r = await verifyAudit(
      { kind: "records", records: [...kept, fake] as never },
      { chains: x.chains, verifier: x.key },
    );
    expect(r.report.problems.map((p) => p.kind)).toContain("headMismatch");
  });
});
