import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AUDIT_COLUMNS } from "../../../shared/audit/index.js";

const root = join(import.meta.dirname, "../../..");
const queries = readdirSync(join(root, "infra/queries")).filter((f) => f.endsWith(".kql"));
const workbook = JSON.parse(
  readFileSync(join(root, "infra/workbook/rollover-audit.workbook.json"), "utf8"),
) as {
  version: string;
  items: Array<{ type: number; name: string; content: { query?: string } }>;
};

/** Column names a query uses that the table does not have (a rough lexical check). */
function unknownColumns(text: string): string[] {
  const kql = text.replace(/\/\/.*$/gm, "").replace(/"[^"]*"/g, '""');
  const known = new Set<string>(AUDIT_COLUMNS.map((c) => c.name));
  const used = [...kql.matchAll(/\b([A-Z][A-Za-z]+)\b/g)].map((m) => m[1]!);
  const defined = new Set([...kql.matchAll(/\b([A-Z][A-Za-z]+)\s*=/g)].map((m) => m[1]!));
  return used.filter((c) => !known.has(c) && !defined.has(c) && c !== "RolloverAudit_CL");
}

describe("audit queries and workbook", () => {
  it("ships the queries the issue names, each deduplicating by RecordId", () => {
    expect(queries.sort()).toEqual([
      "audit-dedupe.kql",
      "chain-check.kql",
      "failures-by-reason.kql",
      "removals-and-holds.kql",
      "rotations-over-time.kql",
      "upcoming-expiries.kql",
    ]);
    for (const q of queries) {
      const text = readFileSync(join(root, "infra/queries", q), "utf8");
      expect(text, q).toContain("summarize arg_min(_Ingested, *) by RecordId, Hash");
      expect(unknownColumns(text), q).toEqual([]);
    }
  });

  it("the workbook shows the credential timeline from the audit table, deduplicated, on known columns", () => {
    const item = workbook.items.find((i) => i.name === "credential-timeline");
    const q = item?.content.query ?? "";
    expect(q).toContain("summarize arg_min(_Ingested, *) by RecordId, Hash");
    for (const col of ["NotBefore", "NotAfter", "KeyId", "sweepRemoval", "retire", "verify"])
      expect(q).toContain(col);
    const defined = [
      "ValidFrom",
      "ValidUntil",
      "Renewed",
      "Attached",
      "Verified",
      "Removed",
      "Findings",
      "Target",
      "DaysValid",
      "DaysLeft",
    ];
    expect(unknownColumns(q).filter((c) => !defined.includes(c))).toEqual([]);
  });

  it("the workbook runs every query as it is in infra/queries", () => {
    expect(workbook.version).toBe("Notebook/1.0");
    const inBook = workbook.items.filter((i) => i.type === 3).map((i) => i.content.query);
    for (const q of queries.filter((q) => q !== "audit-dedupe.kql")) {
      const text = readFileSync(join(root, "infra/queries", q), "utf8");
      expect(inBook, q).toContain(text);
    }
  });
});
