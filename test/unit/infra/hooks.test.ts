/**
 * The azd hooks (POSIX twins; pwsh is not on this machine, the drift test checks that each
 * PowerShell twin exists and resets the same flag): run against a stand-in `azd` on PATH that
 * records its calls and keeps `azd env` values in a file, the way azd keeps `.azure/<env>/.env`.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(new URL("../../..", import.meta.url).pathname);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  calls: string[];
  env: Record<string, string>;
}

function runHook(hook: string, env: Record<string, string>, provisionExit = 0): Run {
  const dir = mkdtempSync(join(tmpdir(), "rollover-hook-"));
  dirs.push(dir);
  const envFile = join(dir, "env.json");
  writeFileSync(envFile, JSON.stringify(env));
  const fake = join(dir, "azd");
  writeFileSync(
    fake,
    `#!/usr/bin/env node
const fs = require("node:fs");
const [cmd, sub, key, value] = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(join(dir, "calls"))}, process.argv.slice(2).join(" ") + "\\n");
const env = JSON.parse(fs.readFileSync(${JSON.stringify(envFile)}, "utf8"));
if (cmd === "env" && sub === "set") { env[key] = value; fs.writeFileSync(${JSON.stringify(envFile)}, JSON.stringify(env)); }
else if (cmd === "env" && sub === "get-value") { if (!(key in env)) { console.error("ERROR: key '" + key + "' not found"); process.exit(1); } console.log(env[key]); }
else if (cmd === "provision") process.exit(${provisionExit});
`,
  );
  chmodSync(fake, 0o755);
  const r = spawnSync("sh", [join(root, "infra/hooks", hook)], {
    env: { PATH: `${dir}:${process.env.PATH}` },
    encoding: "utf8",
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
  } catch {
    calls = [];
  }
  return {
    status: r.status,
    stdout: r.stdout,
    calls,
    env: JSON.parse(readFileSync(envFile, "utf8")) as Record<string, string>,
  };
}

describe("postdeploy", () => {
  it("provisions with the triggers wired after every deploy, and leaves the flag false", () => {
    const befores: Record<string, string>[] = [
      {},
      { ROLLOVER_WIRE_TRIGGERS: "true" },
      { ROLLOVER_WIRE_TRIGGERS: "false" },
    ];
    for (const before of befores) {
      const r = runHook("postdeploy.sh", before);
      expect(r.status).toBe(0);
      expect(r.calls).toEqual([
        "env set ROLLOVER_WIRE_TRIGGERS true",
        "provision --no-prompt",
        "env set ROLLOVER_WIRE_TRIGGERS false",
      ]);
      expect(r.env.ROLLOVER_WIRE_TRIGGERS).toBe("false");
    }
  });

  it("resets the flag and fails when provisioning fails", () => {
    const r = runHook("postdeploy.sh", {}, 7);
    expect(r.status).toBe(7);
    expect(r.env.ROLLOVER_WIRE_TRIGGERS).toBe("false");
  });
});

describe("postdown", () => {
  it("clears the flag and gives a vault the deployment created a new name suffix", () => {
    const r = runHook("postdown.sh", { ROLLOVER_WIRE_TRIGGERS: "true", ROLLOVER_KEY_VAULT_CREATED: "true" });
    expect(r.status).toBe(0);
    expect(r.env.ROLLOVER_WIRE_TRIGGERS).toBe("false");
    expect(r.env.ROLLOVER_KEY_VAULT_NAME_SUFFIX).toMatch(/^[a-z0-9]{5}$/);
    const again = runHook("postdown.sh", { ROLLOVER_KEY_VAULT_CREATED: "true" });
    expect(again.env.ROLLOVER_KEY_VAULT_NAME_SUFFIX).toMatch(/^[a-z0-9]{5}$/);
  });

  it("leaves the name of an existing vault alone", () => {
    const r = runHook("postdown.sh", { ROLLOVER_KEY_VAULT_CREATED: "false" });
    expect(r.status).toBe(0);
    expect(r.env.ROLLOVER_KEY_VAULT_NAME_SUFFIX).toBeUndefined();
  });
});

describe("postprovision", () => {
  const mi = "0b1e7c4a-1111-4222-8333-944455556666";

  it("prints nothing when the deployment granted the Graph permissions", () => {
    const r = runHook("postprovision.sh", {
      ROLLOVER_GRAPH_PERMISSIONS_GRANTED: "true",
      ROLLOVER_IDENTITY_OBJECT_ID: mi,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
  });

  it("prints the administrator's grant for Rollover's identity, and OwnedBy only in managed mode", () => {
    const self = runHook("postprovision.sh", {
      ROLLOVER_GRAPH_PERMISSIONS_GRANTED: "false",
      ROLLOVER_IDENTITY_OBJECT_ID: mi,
      ROLLOVER_MANAGED_MODE: "false",
    });
    expect(self.status).toBe(0);
    expect(self.stdout).toContain(
      `https://graph.microsoft.com/v1.0/servicePrincipals/${mi}/appRoleAssignments`,
    );
    expect(self.stdout).toContain('\\"appRoleId\\":\\"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30\\"');
    expect(self.stdout).not.toContain("18a4783c-866b-4cc7-a460-3d5e5662c884");
    const managed = runHook("postprovision.sh", {
      ROLLOVER_GRAPH_PERMISSIONS_GRANTED: "false",
      ROLLOVER_IDENTITY_OBJECT_ID: mi,
      ROLLOVER_MANAGED_MODE: "true",
    });
    expect(managed.stdout).toContain('\\"appRoleId\\":\\"18a4783c-866b-4cc7-a460-3d5e5662c884\\"');
  });

  it("prints commands a shell runs as printed: the body is valid JSON once the shell expands it", () => {
    const r = runHook("postprovision.sh", {
      ROLLOVER_GRAPH_PERMISSIONS_GRANTED: "false",
      ROLLOVER_IDENTITY_OBJECT_ID: mi,
      ROLLOVER_MANAGED_MODE: "false",
    });
    const body = /--body (".*")$/m.exec(r.stdout)?.[1] as string;
    const expanded = spawnSync("sh", ["-c", `graph=G; printf %s ${body}`], { encoding: "utf8" }).stdout;
    expect(JSON.parse(expanded)).toEqual({
      principalId: mi,
      resourceId: "G",
      appRoleId: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    });
  });
});
