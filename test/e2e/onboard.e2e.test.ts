/**
 * The README's "Try it without Azure" onboarding, as a person runs it: the `rollover` command in
 * its own process, the sandbox's `env` with its `operator.env` laid over it, nothing else.
 */
import { describe, expect, it } from "vitest";
import { DEMO_ONBOARDING } from "../../sandbox/seeds.js";
import { rollover } from "../helpers/cli.js";
import { useSandbox } from "../helpers/sandbox.js";

describe("rollover bind from the README, against the sandbox", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });
  const run = (args: string[]) =>
    rollover(args, { PATH: process.env.PATH ?? "", ...sb().env, ...sb().operatorEnv });

  it("binds inventory-api as the operator, then finds it bound; the audit trail verifies", async () => {
    const { ctx, urls } = sb();
    const { unbound } = DEMO_ONBOARDING;
    const first = await run(["bind", unbound.displayName, "--yes"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/is bound/);
    expect(ctx.directory.get(urls.tenantId, unbound.id)!.keyCredentials).toHaveLength(1);
    const again = await run(["bind", unbound.displayName, "--yes"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing changed/);
    expect(ctx.vault.versions(unbound.displayName)).toHaveLength(1);
    const bad = await run(["bind", unbound.displayName, "--key-size", "1024"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^rollover: --key-size: /m);
    const verify = await run(["audit", "verify"]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
