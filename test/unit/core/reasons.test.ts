import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Reason, REASON_TEXT } from "../../../shared/core/index.js";

describe("reason codes", () => {
  it("each code is its own name (stable strings) and has a description", () => {
    for (const [k, v] of Object.entries(Reason)) {
      expect(v).toBe(k);
      expect(REASON_TEXT[v].length).toBeGreaterThan(5);
    }
  });

  it("docs/reason-codes.md lists every code", () => {
    const doc = readFileSync(new URL("../../../docs/reason-codes.md", import.meta.url), "utf8");
    const missing = Object.values(Reason).filter((c) => !doc.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });
});
