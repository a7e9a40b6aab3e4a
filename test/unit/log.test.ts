import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { redactionCounter } from "../../shared/audit/redact.js";
import { createLogger } from "../../shared/log.js";

describe("logger with the redaction guard", () => {
  it("never writes a private key or a JWT, and counts what it replaced", () => {
    const lines: string[] = [];
    const log = createLogger((_l, line) => lines.push(line), "debug");
    const pem = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;
    const jwt =
      "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
    const before = redactionCounter.total;
    log.error(`attach failed: ${pem}`);
    log.info(`token ${jwt} rejected`);
    expect(lines.join("\n")).not.toMatch(/BEGIN PRIVATE KEY|eyJhbGciOi/);
    expect(redactionCounter.total).toBeGreaterThanOrEqual(before + 2);
  });

  it("keeps ordinary lines and respects the level", () => {
    const lines: string[] = [];
    const log = createLogger((l, line) => lines.push(`${l}:${line}`), "warn");
    log.info("renewed payments-api (thumbprint 52ED9B5038A47B9E2E2190715CC238359D4F8F73)");
    log.warn("retire held: GuardGraceWindow");
    expect(lines).toEqual(["warn:retire held: GuardGraceWindow"]);
  });
});
