import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;
const KEY_MATERIAL = /-----BEGIN|PRIVATE KEY|eyJ[\w-]{10,}\.[\w-]{10,}\./;

describe("rollover demo (what npm start runs)", () => {
  it("rotates every bound certificate, sweeps within the cap, and the audit chain verifies", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/main.ts", "demo"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
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
