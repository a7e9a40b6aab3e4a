import { describe, expect, it } from "vitest";
import { rollover } from "../helpers/cli.js";

const KEY_MATERIAL = /-----BEGIN|PRIVATE KEY|eyJ[\w-]{10,}\.[\w-]{10,}\./;

describe("rollover demo (what npm start runs)", () => {
  it("rotates every bound certificate, sweeps within the cap, and the audit chain verifies", async () => {
    const { code, stdout, stderr } = await rollover(["demo"], {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
    });
    expect(code, stderr).toBe(0);
    for (const app of ["payments-api", "reporting-batch", "contoso-agent-blueprint", "fabrikam-connector"]) {
      const block = stdout.slice(stdout.indexOf(app), stdout.indexOf("\n\n", stdout.indexOf(app)));
      expect(block, app).toMatch(/\(retired\)/);
      expect(block, app).toMatch(/\(new\)/);
    }
    expect(stdout).toMatch(/held\s+\S+: GuardRemovalCap/);
    expect(stdout).toMatch(/held\s+legacy-portal: GuardDenyList/);
    expect(stdout).toMatch(/removed: 2;/);
    expect(stdout).toMatch(/Audit chain check \(rollover audit verify\): whole/);
    expect(stdout + stderr).not.toMatch(KEY_MATERIAL);
  }, 120_000);
});
