import { describe, expect, it } from "vitest";
import { DEMO } from "../../../sandbox/seeds.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;

describe("rotation engine against the sandbox (demo tenant)", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });

  it("self mode: renews a near-expiry certificate, attaches, verifies, and retires the old key after the grace window", async () => {
    const { engine, audit } = makeEngine(sb());
    const { ctx, urls } = sb();
    const app = DEMO.apps.payments;
    const before = ctx.directory.get(urls.tenantId, app.id)!;
    const oldThumbs = before.keyCredentials.map((k) => k.customKeyIdentifier);
    const first = await engine.reconcile({
      vaultName: engineVaultName(urls.vaultUrl),
      certificateName: app.certificate,
    });
    expect(first.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    expect(first.reason).toBe("GraceWindowOpen");
    const mid = ctx.directory.get(urls.tenantId, app.id)!;
    expect(mid.keyCredentials).toHaveLength(2);
    expect(ctx.vault.versions(app.certificate)).toHaveLength(2);

    // Within the grace window nothing more happens.
    const again = await engine.reconcile({
      vaultName: engineVaultName(urls.vaultUrl),
      certificateName: app.certificate,
    });
    expect(again.steps.map((s) => s.kind)).toEqual(["wait"]);

    await ctx.clock.advance(73 * HOUR);
    const last = await engine.reconcile({
      vaultName: engineVaultName(urls.vaultUrl),
      certificateName: app.certificate,
    });
    expect(last.steps.map((s) => s.kind)).toEqual(["retire", "none"]);
    const after = ctx.directory.get(urls.tenantId, app.id)!;
    expect(after.keyCredentials).toHaveLength(1);
    expect(oldThumbs).not.toContain(after.keyCredentials[0]!.customKeyIdentifier);
    expect(ctx.vault.versions(app.certificate)).toHaveLength(2);
    expect(audit.events.map((e) => `${e.action}:${e.outcome}`)).toEqual(
      expect.arrayContaining(["renew:succeeded", "attach:succeeded", "verify:succeeded", "retire:succeeded"]),
    );
  });
});

function engineVaultName(vaultUrl: string): string {
  const u = new URL(vaultUrl);
  return `${u.hostname}:${u.port}`;
}
