/**
 * The `rollover` command against the sandbox, as a user runs it: settings from the sandbox's
 * `env`, nothing else. A dry run changes nothing; `apply --yes` rotates what is due and sweeps;
 * `audit verify` checks what the runs wrote.
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../sandbox/seeds.js";
import { rollover } from "../helpers/cli.js";
import { useSandbox } from "../helpers/sandbox.js";

describe("rollover CLI against the sandbox", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });

  const run = (args: string[], extra: Record<string, string> = {}) =>
    rollover(args, { PATH: process.env.PATH ?? "", ...sb().env, ...extra });

  it("plan (live) is a dry run: it names the steps and changes nothing", async () => {
    const { ctx } = sb();
    const versions = ctx.vault.versions(DEMO.apps.payments.certificate).length;
    const r = await run(["plan", "--json"]);
    expect(r.code === 0 || r.code === 3, r.stderr).toBe(true);
    const out = JSON.parse(r.stdout);
    expect(out.dryRun).toBe(true);
    const payments = out.outcomes.find(
      (o: { ref: { certificateName: string } }) => o.ref.certificateName === DEMO.apps.payments.certificate,
    );
    expect(payments.result).toBe("planned");
    expect(payments.steps[0].kind).toBe("renew");
    expect(ctx.vault.versions(DEMO.apps.payments.certificate)).toHaveLength(versions);
  });

  it("apply --yes rotates what is due; audit verify passes over what it wrote", async () => {
    const { ctx, urls } = sb();
    const r = await run(["apply", "--yes", "--json"], { ROLLOVER_MANAGED_MODE: "true" });
    expect([0, 3], r.stderr).toContain(r.code);
    const out = JSON.parse(r.stdout);
    const byName = new Map(
      out.outcomes.map((o: { ref: { certificateName: string }; result: string }) => [
        o.ref.certificateName,
        o.result,
      ]),
    );
    expect(byName.get(DEMO.apps.payments.certificate)).toBe("waiting");
    expect(ctx.vault.versions(DEMO.apps.payments.certificate)).toHaveLength(2);
    expect(ctx.directory.get(urls.tenantId, DEMO.apps.payments.id)!.keyCredentials).toHaveLength(2);
    const v = await run(["audit", "verify"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it("bad settings exit 2 with every problem named", async () => {
    const r = await run(["apply"], {
      ROLLOVER_VAULT_URLS: "http://not-https",
      ROLLOVER_GRACE_HOURS: "soon",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ROLLOVER_VAULT_URLS/);
    expect(r.stderr).toMatch(/ROLLOVER_GRACE_HOURS/);
  });
});
