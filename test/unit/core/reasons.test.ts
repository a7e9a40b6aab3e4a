import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  isReasonCode,
  Reason,
  REASON_CLASS,
  REASON_CLASSES,
  REASON_TEXT,
  reasonRegistry,
  reasonsOfClass,
  renderReasonTable,
} from "../../../shared/core/index.js";
import { AlertReason } from "../../../shared/remediation/remediate.js";
import { EventReason } from "../../../shared/events/handle.js";

describe("reason codes", () => {
  it("each code is its own name (stable strings) and has a description and a class", () => {
    for (const [k, v] of Object.entries(Reason)) {
      expect(v).toBe(k);
      expect(REASON_TEXT[v].length).toBeGreaterThan(5);
      expect(REASON_CLASSES).toContain(REASON_CLASS[v]);
    }
    expect(Object.keys(REASON_TEXT).sort()).toEqual(Object.keys(Reason).sort());
    expect(Object.keys(REASON_CLASS).sort()).toEqual(Object.keys(Reason).sort());
  });

  it("the edges' codes are entries of the one registry", () => {
    for (const c of [...Object.values(EventReason), ...Object.values(AlertReason), "MalformedMessage"])
      expect(isReasonCode(c)).toBe(true);
    expect(isReasonCode("NoSuchCode")).toBe(false);
    expect(isReasonCode("toString")).toBe(false);
  });

  it("the classes partition the registry", () => {
    const all = REASON_CLASSES.flatMap((c) => reasonsOfClass(c));
    expect(all.sort()).toEqual(
      reasonRegistry()
        .map((r) => r.code)
        .sort(),
    );
    // What must reach a person, whatever else changes (issue: refusals, read failures, unbound expiry).
    for (const c of [
      "TargetNotFound",
      "NoSigningKey",
      "RenewalNotSupported",
      "ReadFailed",
      "ExpiringUnbound",
    ])
      expect(REASON_CLASS[c as keyof typeof REASON_CLASS]).toBe("needsPerson");
  });

  it("docs/reason-codes.md lists every code with its class (npm run docs:reasons)", () => {
    const doc = readFileSync(new URL("../../../docs/reason-codes.md", import.meta.url), "utf8");
    const wrong = reasonRegistry()
      .filter((r) => !doc.includes(`| \`${r.code}\` | ${r.class} |`))
      .map((r) => r.code);
    expect(wrong).toEqual([]);
    const m = /<!-- reason-table:start -->\n([\s\S]*?)\n<!-- reason-table:end -->/.exec(doc);
    expect(m?.[1], "run npm run docs:reasons").toBe(renderReasonTable());
  });
});
