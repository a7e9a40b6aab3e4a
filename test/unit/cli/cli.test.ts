import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** Runs the CLI from source, as a user would run `rollover …` (no build needed). */
function rollover(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("rollover CLI", () => {
  it("--help lists the commands", () => {
    const r = rollover(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/plan/);
    expect(r.stdout).toMatch(/config/);
  });

  it("plan prints the example tenant's plan with reasons and guardrails", () => {
    const r = rollover(["plan", "--snapshot", "examples/tenant.json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/RENEW/);
    expect(r.stdout).toMatch(/ATTACH/);
    expect(r.stdout).toMatch(/RETIRE/);
    expect(r.stdout).toMatch(/GuardSelfIdentity/);
    expect(r.stdout).toMatch(/KeyUnmanaged/);
    expect(r.stdout).toMatch(/RemovalNotPermitted/);
    expect(r.stdout).toMatch(/CredentialOverLongLived/);
    expect(r.stdout).toMatch(/KeyOrphaned/);
    expect(r.stdout).toMatch(/agentIdentityBlueprint|travel-agent/);
  });

  it("plan --json is machine-readable", () => {
    const r = rollover(["plan", "--snapshot", "examples/tenant.json", "--json"]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.bindings.length).toBeGreaterThan(3);
    expect(plan.sweep.removals.length).toBeGreaterThan(0);
  });

  it("a missing snapshot file is one line and exit 2", () => {
    const r = rollover(["plan", "--snapshot", "nope.json"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot read nope\.json: no such file/);
  });

  it("a snapshot that is not JSON is one line and exit 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "rollover-cli-"));
    const f = join(dir, "bad.json");
    writeFileSync(f, "{ not json");
    const r = rollover(["plan", "--snapshot", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not valid JSON/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("bad settings list every problem and exit 2, without a stack trace", () => {
    const r = rollover(["plan", "--snapshot", "examples/tenant.json"], {
      ROLLOVER_SWEEP_MODE: "purge",
      ROLLOVER_GRACE_HOURS: "a while",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ROLLOVER_SWEEP_MODE/);
    expect(r.stderr).toMatch(/ROLLOVER_GRACE_HOURS/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("an unknown command is a usage error", () => {
    const r = rollover(["frobnicate"]);
    expect(r.code).toBe(2);
  });

  it("settings apply to the plan: remove mode with a cap of 1 defers the rest", () => {
    const r = rollover(["plan", "--snapshot", "examples/tenant.json", "--json"], {
      ROLLOVER_SWEEP_MODE: "remove",
      ROLLOVER_MAX_REMOVALS_PER_RUN: "1",
      ROLLOVER_MANAGED_MODE: "true",
    });
    const plan = JSON.parse(r.stdout);
    expect(plan.sweep.removals).toHaveLength(1);
    expect(plan.sweep.held.some((h: { guard: string }) => h.guard === "GuardRemovalCap")).toBe(true);
  });
});
