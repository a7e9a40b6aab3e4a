import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../../shared/audit/events.js";
import {
  AUDIT_COLUMNS,
  type AuditRecord,
  canonicalForm,
  dedupeByRecordId,
  GENESIS_HASH,
  hashRecord,
  normalizeRecord,
  toRecord,
  verifyChains,
} from "../../../shared/audit/index.js";

const actions = ["renew", "attach", "verify", "retire", "sweepFinding", "sweepRemoval"] as const;
const outcomes = ["succeeded", "failed", "skipped", "planned"] as const;

const eventArb: fc.Arbitrary<AuditEvent> = fc.record(
  {
    action: fc.constantFrom(...actions),
    outcome: fc.constantFrom(...outcomes),
    reason: fc.constantFrom("AttachNewVersion", "RemoveExpired", "GraceWindowOpen"),
    message: fc.string({ maxLength: 40 }),
    dryRun: fc.boolean(),
    tenantId: fc.uuid(),
    targetObjectId: fc.uuid(),
    targetDisplayName: fc.string({ maxLength: 20 }),
    thumbprint: fc.stringMatching(/^[0-9A-F]{40}$/),
    notAfter: fc
      .date({ min: new Date("2020-01-01"), max: new Date("2040-01-01"), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  { requiredKeys: ["action", "outcome", "reason", "message"] },
);

function chain(events: AuditEvent[], writer = "w1", start = 0, prev = GENESIS_HASH): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prevHash = prev;
  events.forEach((e, i) => {
    const r = toRecord(e, {
      runId: "run-1",
      trigger: "timer",
      actor: "actor-1",
      writer,
      sequence: start + i + 1,
      prevHash,
      time: new Date(Date.UTC(2026, 0, 1) + i * 1000),
    });
    out.push(r);
    prevHash = r.Hash;
  });
  return out;
}

const chainArb = fc.array(eventArb, { minLength: 2, maxLength: 25 }).map((events) => chain(events));

describe("canonical form and hash", () => {
  it("covers every column but Hash, in AUDIT_COLUMNS order", () => {
    const [r] = chain([{ action: "attach", outcome: "succeeded", reason: "AttachNewVersion", message: "m" }]);
    const values = JSON.parse(canonicalForm(r!)) as unknown[];
    expect(values).toHaveLength(AUDIT_COLUMNS.length); // version tag + every column but Hash
    expect(values[0]).toBe("rollover-audit/1");
    expect(values[AUDIT_COLUMNS.findIndex((c) => c.name === "Sequence") + 1]).toBe(1);
  });

  it("is stable whatever the key order, and equal for a record read back from the workspace", () => {
    fc.assert(
      fc.property(chainArb, (records) => {
        for (const r of records) {
          const shuffled = Object.fromEntries(Object.entries(r).reverse());
          expect(hashRecord(shuffled)).toBe(r.Hash);
          // As Log Analytics returns it: nulls as "", datetimes as Date, extra columns.
          const readBack: Record<string, unknown> = { TenantId: "ws", Type: "RolloverAudit_CL" };
          for (const [k, v] of Object.entries(r)) {
            const col = AUDIT_COLUMNS.find((c) => c.name === k)!;
            readBack[k] =
              v === null && col.type === "string"
                ? ""
                : col.type === "datetime" && v
                  ? new Date(v as string)
                  : v;
          }
          expect(hashRecord(readBack)).toBe(r.Hash);
          expect(normalizeRecord(readBack).Sequence).toBe(r.Sequence);
        }
      }),
    );
  });

  it("changes when any column changes", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.nat(), (records, i, c) => {
        const r = records[i % records.length]!;
        const column = AUDIT_COLUMNS.filter((x) => x.name !== "Hash")[c % (AUDIT_COLUMNS.length - 1)]!;
        const edited: Record<string, unknown> = { ...r };
        switch (column.type) {
          case "long":
            edited[column.name] = (r[column.name as "Sequence"] as number) + 1;
            break;
          case "boolean":
            edited[column.name] = !r[column.name as "DryRun"];
            break;
          case "datetime":
            edited[column.name] = new Date(
              Date.parse((r[column.name as "NotAfter"] as string) ?? "2030-01-01") + 1,
            ).toISOString();
            break;
          default:
            edited[column.name] = `${String(r[column.name as "Message"] ?? "")}x`;
        }
        expect(hashRecord(edited)).not.toBe(r.Hash);
      }),
    );
  });
});

describe("verifyChains", () => {
  it("passes a whole chain, in any arrival order, with exact resends set aside", () => {
    fc.assert(
      fc.property(chainArb, fc.integer(), fc.nat(), (records, seed, dup) => {
        const shuffled = fc.sample(fc.shuffledSubarray(records, { minLength: records.length }), {
          seed,
          numRuns: 1,
        })[0]!;
        const withDup = [...shuffled, records[dup % records.length]!];
        const report = verifyChains(withDup);
        expect(report.ok).toBe(true);
        expect(report.duplicates).toBe(1);
        expect(report.chains[0]!.lastSequence).toBe(records.length);
      }),
    );
  });

  it("names the record whose field was edited", () => {
    fc.assert(
      fc.property(
        chainArb,
        fc.nat(),
        fc.constantFrom("Message", "Outcome", "Thumbprint", "TimeGenerated", "DryRun"),
        (records, i, field) => {
          const k = i % records.length;
          const target = records[k]!;
          const copy = records.map((r) => ({ ...r })) as Array<Record<string, unknown>>;
          copy[k]![field] =
            field === "DryRun"
              ? !target.DryRun
              : field === "TimeGenerated"
                ? "2030-05-05T00:00:00.000Z"
                : `${String(target[field as "Message"] ?? "")}!`;
          const report = verifyChains(copy);
          expect(report.ok).toBe(false);
          const c = report.chains[0]!;
          expect(c.firstBroken?.kind).toBe("edited");
          expect(c.firstBroken?.sequence).toBe(target.Sequence);
          expect(c.firstBroken?.recordId).toBe(target.RecordId);
        },
      ),
    );
  });

  it("names the record after a deleted one (or the missing tail, given the stored head)", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), (records, i) => {
        const k = i % records.length;
        const rest = records.filter((_, j) => j !== k);
        const last = records.at(-1)!;
        const report = verifyChains(rest, {
          heads: [{ writer: "w1", sequence: last.Sequence, hash: last.Hash }],
        });
        expect(report.ok).toBe(false);
        const first = report.chains[0]!.firstBroken!;
        if (k === records.length - 1) {
          expect(first.kind).toBe("truncated");
          expect(first.missing).toEqual([last.Sequence, last.Sequence]);
        } else {
          expect(first.kind).toBe(k === 0 ? "missingStart" : "gap");
          expect(first.sequence).toBe(records[k + 1]!.Sequence);
          expect(first.missing).toEqual([k + 1, k + 1]);
        }
      }),
    );
  });

  it("detects two records that swapped positions, naming the first", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.nat(), (records, a, b) => {
        const i = a % records.length;
        let j = b % records.length;
        if (i === j) j = (j + 1) % records.length;
        const copy = records.map((r) => ({ ...r }));
        const si = copy[i]!.Sequence;
        copy[i]!.Sequence = copy[j]!.Sequence;
        copy[j]!.Sequence = si;
        const report = verifyChains(copy);
        expect(report.ok).toBe(false);
        const named = report.problems.filter((p) => p.kind === "edited").map((p) => p.recordId);
        expect(named).toEqual(expect.arrayContaining([records[i]!.RecordId, records[j]!.RecordId]));
        expect(report.chains[0]!.firstBroken!.sequence).toBe(Math.min(i, j) + 1);
      }),
    );
  });

  it("detects a record forged with a correct hash (replaced, or moved after another record)", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), (records, i) => {
        const k = 1 + (i % (records.length - 1));
        const forged = records.map((r) => ({ ...r }));
        const original = forged[k]!;
        const replaced = { ...original, Message: "nothing happened" };
        replaced.Hash = hashRecord(replaced);
        forged[k] = replaced;
        const report = verifyChains(forged);
        expect(report.ok).toBe(k === records.length - 1);
        if (k < records.length - 1) {
          expect(report.chains[0]!.firstBroken!.kind).toBe("brokenLink");
          expect(report.chains[0]!.firstBroken!.sequence).toBe(k + 2);
        }
      }),
    );
  });

  it("reports a fork and reordering", () => {
    const events: AuditEvent[] = Array.from({ length: 4 }, (_, i) => ({
      action: "attach",
      outcome: "succeeded",
      reason: "AttachNewVersion",
      message: `m${i}`,
    }));
    const records = chain(events);
    // A second record 2 from another writer process that reused the position.
    const other = chain(events.slice(0, 2).map((e) => ({ ...e, message: "other" })));
    const fork = verifyChains([...records, other[1]!]);
    expect(fork.chains[0]!.firstBroken!.kind).toBe("fork");
    expect(fork.chains[0]!.firstBroken!.sequence).toBe(2);
    // Record 4 re-pointed at record 2 and re-hashed: it claims to follow 2, not 3.
    const moved = { ...records[3]!, PrevHash: records[1]!.Hash };
    moved.Hash = hashRecord(moved);
    const reordered = verifyChains([records[0]!, records[1]!, records[2]!, moved]);
    expect(reordered.chains[0]!.firstBroken).toMatchObject({ kind: "reordered", sequence: 4 });
  });

  it("keeps chains of concurrent writers apart and continues a chain after a restart", () => {
    const ev: AuditEvent = { action: "verify", outcome: "succeeded", reason: "VerifyNewKey", message: "ok" };
    const a1 = chain([ev, ev], "host-a");
    const b = chain([ev, ev, ev], "host-b");
    const a2 = chain([ev], "host-a", 2, a1[1]!.Hash); // a new process, same chain, from the stored head
    const report = verifyChains([...b, ...a2, ...a1]);
    expect(report.ok).toBe(true);
    expect(report.chains.map((c) => [c.writer, c.records])).toEqual([
      ["host-a", 3],
      ["host-b", 3],
    ]);
    expect(verifyChains(a2, { expectGenesis: false }).ok).toBe(true);
    expect(verifyChains(a2).chains[0]!.firstBroken!.kind).toBe("missingStart");
  });

  it("does not count records that wait in the spool as missing", () => {
    const ev: AuditEvent = { action: "renew", outcome: "succeeded", reason: "RenewExpired", message: "" };
    const records = chain([ev, ev, ev, ev]);
    const report = verifyChains([records[0]!, records[3]!], { pending: new Map([["w1", new Set([2, 3])]]) });
    expect(report.ok).toBe(true);
  });

  it("dedupeByRecordId keeps the first of each resend", () => {
    const ev: AuditEvent = { action: "renew", outcome: "succeeded", reason: "RenewExpired", message: "" };
    const records = chain([ev, ev]);
    const { records: kept, duplicates } = dedupeByRecordId([
      records[0]!,
      records[1]!,
      records[0]!,
      records[1]!,
    ]);
    expect(kept).toEqual(records);
    expect(duplicates).toBe(2);
  });
});
