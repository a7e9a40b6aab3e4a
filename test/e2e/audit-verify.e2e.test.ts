/**
 * `rollover audit verify` sees its own end: it reads the chain heads (signed in Key Vault with
 * Rollover's audit signing key) and the spool from Rollover's storage, so someone holding only
 * publish rights on the data collection rule, or who deletes records, cannot make a broken trail
 * pass: deleting the newest records, appending records to a chain, appending a second chain, or
 * emptying a window all exit non-zero; a head whose signature does not verify fails too.
 */
import { TableClient } from "@azure/data-tables";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { toRecord } from "../../shared/audit/record.js";
import type { IngestedRecord } from "../../sandbox/types.js";
import { rollover } from "../helpers/cli.js";
import { useSandbox } from "../helpers/sandbox.js";

const sb = useSandbox({ seed: "demo", azurite: true });
const run = (args: string[]) => rollover(args, { PATH: process.env.PATH ?? "", ...sb().env });

let whole: IngestedRecord[] = [];

/** Puts the trail back as Rollover wrote it. */
function restore(): void {
  const { ctx } = sb();
  ctx.logs.reset();
  (ctx.logs as unknown as { append(r: IngestedRecord[]): void }).append(whole);
}

/** The newest record of the chain with the most records. */
function newestOfBusiestChain(): { index: number; record: Record<string, unknown> } {
  const list = sb().ctx.logs.records();
  const counts = new Map<string, number>();
  for (const r of list) counts.set(String(r.record.Writer), (counts.get(String(r.record.Writer)) ?? 0) + 1);
  const writer = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  let best = -1;
  list.forEach((r, i) => {
    if (
      r.record.Writer === writer &&
      (best < 0 || Number(r.record.Sequence) > Number(list[best]!.record.Sequence))
    )
      best = i;
  });
  return { index: best, record: list[best]!.record };
}

function forged(writer: string, sequence: number, prevHash: string, at: string): Record<string, unknown> {
  return toRecord(
    { action: "attach", outcome: "succeeded", reason: "AttachNewVersion", message: "attached version x" },
    {
      runId: "00000000-0000-4000-8000-00000000f0f0",
      trigger: "timer",
      actor: "rollover",
      writer,
      sequence,
      prevHash,
      time: new Date(at),
    },
  ) as unknown as Record<string, unknown>;
}

describe("rollover audit verify against a tampered trail", () => {
  beforeAll(async () => {
    const r = await run(["apply", "--yes", "--json"]);
    expect([0, 1, 3], r.stderr).toContain(r.code);
    whole = sb().ctx.logs.records();
    expect(whole.length).toBeGreaterThan(5);
  }, 120_000);
  afterEach(() => restore());

  it("the trail as written verifies, heads signed by Rollover's key", async () => {
    const v = await run(["audit", "verify"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stderr).not.toMatch(/not checked for Rollover's signature/);
  });

  it("deleting the newest record fails (the head is further on)", async () => {
    sb().ctx.logs.tamper(newestOfBusiestChain().index, null);
    const v = await run(["audit", "verify"]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/truncated/);
  });

  it("records appended to a chain, correctly linked, fail (past the head)", async () => {
    const { record } = newestOfBusiestChain();
    const next = forged(
      String(record.Writer),
      Number(record.Sequence) + 1,
      String(record.Hash),
      String(record.TimeGenerated),
    );
    const base = whole[0]!;
    (sb().ctx.logs as unknown as { append(r: IngestedRecord[]): void }).append([{ ...base, record: next }]);
    const v = await run(["audit", "verify"]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/beyondHead/);
  });

  it("a second, internally whole chain under another writer fails (no head of Rollover's)", async () => {
    const base = whole[0]!;
    const at = String(base.record.TimeGenerated);
    const first = forged("rollover-forged", 1, "0".repeat(64), at);
    const second = forged("rollover-forged", 2, String(first.Hash), at);
    (sb().ctx.logs as unknown as { append(r: IngestedRecord[]): void }).append([
      { ...base, record: first },
      { ...base, record: second },
    ]);
    const v = await run(["audit", "verify"]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/unknownWriter/);
  });

  it("--since fails for a window whose records of an active writer were all deleted", async () => {
    const { record } = newestOfBusiestChain();
    const since = String(record.TimeGenerated);
    // Delete every record of that writer from `since` on (from the end, so indexes hold).
    const list = sb().ctx.logs.records();
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!.record;
      if (r.Writer === record.Writer && String(r.TimeGenerated) >= since) sb().ctx.logs.tamper(i, null);
    }
    const v = await run(["audit", "verify", "--since", since]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/truncated/);
  });

  it("a head whose signature was replaced fails", async () => {
    const table = TableClient.fromConnectionString(sb().env.AzureWebJobsStorage!, "RolloverAuditChains", {
      allowInsecureConnection: true,
    });
    const changed: Array<{ partitionKey: string; rowKey: string; Signature: string }> = [];
    for await (const e of table.listEntities<{ Signature?: string }>()) {
      if (!e.Signature) continue;
      changed.push({ partitionKey: e.partitionKey!, rowKey: e.rowKey!, Signature: e.Signature });
      const sig = Buffer.from(e.Signature, "base64url");
      sig[0] = (sig[0]! ^ 0xff) & 0xff;
      await table.updateEntity(
        { partitionKey: e.partitionKey!, rowKey: e.rowKey!, Signature: sig.toString("base64url") },
        "Merge",
      );
    }
    expect(changed.length).toBeGreaterThan(0);
    try {
      const v = await run(["audit", "verify"]);
      expect(v.code).toBe(1);
      expect(v.stdout).toMatch(/unsigned/);
    } finally {
      for (const c of changed) await table.updateEntity(c, "Merge");
    }
  });
});
