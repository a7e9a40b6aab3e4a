/**
 * Every command's exit codes, in one table (README "Exit codes"): 0 done, 1 failed or refused
 * (something needs a person), 2 bad usage or settings, 3 partial, 4 locked. Rows run in order
 * against one sandbox (demo seed), as a user runs `rollover`.
 */
import type { SandboxVault } from "../../sandbox/keyvault/store.js";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../sandbox/seeds.js";
import { LeaseManager } from "../../shared/azure/storage.js";
import { EXIT } from "../../cli/run.js";
import { rollover } from "../helpers/cli.js";
import { sandboxVaultName } from "../helpers/engine.js";
import { useSandbox } from "../helpers/sandbox.js";

const DAY = 86_400_000;

describe("exit codes of every command", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });
  const plain = { PATH: process.env.PATH ?? "" };
  const sandboxEnv = () => ({ ...plain, ...sb().env });

  interface Row {
    command: string;
    args: string[];
    env: () => Record<string, string>;
    code: number;
    before?: () => Promise<(() => Promise<void>) | undefined>;
  }

  const rows: Row[] = [
    { command: "--help", args: ["--help"], env: () => plain, code: EXIT.ok },
    { command: "unknown command", args: ["frobnicate"], env: () => plain, code: EXIT.usage },
    {
      command: "plan --snapshot",
      args: ["plan", "--snapshot", "examples/tenant.json"],
      env: () => plain,
      code: EXIT.ok,
    },
    {
      command: "plan --snapshot (missing file)",
      args: ["plan", "--snapshot", "nope.json"],
      env: () => plain,
      code: EXIT.usage,
    },
    { command: "plan (live)", args: ["plan"], env: sandboxEnv, code: EXIT.ok },
    { command: "plan (no settings)", args: ["plan"], env: () => plain, code: EXIT.usage },
    { command: "apply (dry run)", args: ["apply"], env: sandboxEnv, code: EXIT.ok },
    {
      command: "apply --max-removals x",
      args: ["apply", "--max-removals", "x"],
      env: sandboxEnv,
      code: EXIT.usage,
    },
    { command: "sweep (report)", args: ["sweep"], env: sandboxEnv, code: EXIT.ok },
    {
      command: "status (nothing needs a person)",
      args: ["status"],
      env: sandboxEnv,
      code: EXIT.ok,
      before: async () => {
        // The demo's inventory-sync binding is refused by design (PolicyWouldRefuse, needs a
        // person): set its tags aside for this row only.
        const entry = (sb().ctx.vault as SandboxVault).get("inventory-sync")!;
        const saved = entry.versions.map((v) => v.tags);
        for (const v of entry.versions) v.tags = {};
        return async () => {
          entry.versions.forEach((v, i) => {
            v.tags = saved[i]!;
          });
        };
      },
    },
    { command: "status (no settings)", args: ["status"], env: () => plain, code: EXIT.usage },
    {
      command: "config --for plan (no settings)",
      args: ["config", "--for", "plan"],
      env: () => plain,
      code: EXIT.usage,
    },
    {
      command: "config --for nonsense",
      args: ["config", "--for", "deploy"],
      env: sandboxEnv,
      code: EXIT.usage,
    },
    { command: "config --for plan", args: ["config", "--for", "plan"], env: sandboxEnv, code: EXIT.ok },
    {
      command: "config --for apply (grants in place)",
      args: ["config", "--for", "apply"],
      env: sandboxEnv,
      code: EXIT.ok,
    },
    {
      command: "config --for apply (grants missing)",
      args: ["config", "--for", "apply"],
      env: () => {
        const { ctx } = sb();
        const t = ctx.directory.defaultTenantId;
        const app = ctx.directory.createApplication(t, { displayName: "ungranted" });
        const sp = ctx.directory.findByAppId(t, app.appId, "servicePrincipal")!;
        return { ...sandboxEnv(), ROLLOVER_IDENTITY_OBJECT_ID: sp.id };
      },
      code: EXIT.failed,
    },
    {
      command: "rotate (no such certificate)",
      args: ["rotate", "no-such-cert"],
      env: sandboxEnv,
      code: EXIT.usage,
    },
    {
      command: "rotate (locked by another run)",
      args: ["rotate", DEMO.apps.payments.certificate],
      env: sandboxEnv,
      code: EXIT.locked,
      before: async () => {
        const leases = LeaseManager.fromSettings({ connectionString: sb().env.AzureWebJobsStorage });
        const held = await leases.acquire(`${sandboxVaultName(sb())}/${DEMO.apps.payments.certificate}`);
        if (!held) throw new Error("could not take the lease");
        return () => held.release();
      },
    },
    {
      command: "rotate (done)",
      args: ["rotate", DEMO.apps.payments.certificate],
      env: sandboxEnv,
      code: EXIT.ok,
    },
    {
      command: "rotate (refused: target not found)",
      args: ["rotate", "retired-service"],
      env: sandboxEnv,
      code: EXIT.failed,
      before: async () => {
        const now = sb().ctx.clock.now();
        await sb().ctx.vault.createCertificate("retired-service", {
          tags: { "rollover-target": "a1000000-0000-4000-8000-0000000000ff" },
          notBefore: Math.floor((now - 100 * DAY) / 1000),
          expires: Math.floor((now + 265 * DAY) / 1000),
        });
        return undefined;
      },
    },
    { command: "status (a binding needs a person)", args: ["status"], env: sandboxEnv, code: EXIT.failed },
    { command: "audit verify", args: ["audit", "verify"], env: sandboxEnv, code: EXIT.ok },
    { command: "audit verify (no settings)", args: ["audit", "verify"], env: () => plain, code: EXIT.usage },
    {
      command: "sandbox --seed lots",
      args: ["sandbox", "--seed", "lots"],
      env: () => plain,
      code: EXIT.usage,
    },
    { command: "serve --port x", args: ["serve", "--port", "x"], env: () => plain, code: EXIT.usage },
  ];

  for (const row of rows) {
    it(`rollover ${row.command} → ${row.code}`, async () => {
      const after = await row.before?.();
      try {
        const r = await rollover(row.args, row.env());
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(row.code);
        if (row.code === EXIT.usage) expect(r.stderr).not.toMatch(/\n\s+at /);
      } finally {
        await after?.();
      }
    });
  }
});
