import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SandboxHandle } from "../../../sandbox/index.js";
import { DEMO } from "../../../sandbox/seeds.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;

/** Thumbprints of a target's keys, from the certificates themselves. */
function thumbs(sb: SandboxHandle, id: string): string[] {
  return sb.ctx.directory
    .get(sb.urls.tenantId, id)!
    .keyCredentials.map((k) => createHash("sha1").update(k.key).digest("hex").toUpperCase());
}

describe("rotation engine against the sandbox (demo tenant)", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });

  it("self mode: renews a near-expiry certificate, attaches, verifies, and retires the old key after the grace window", async () => {
    const { engine, audit } = makeEngine(sb());
    const { ctx, urls } = sb();
    const app = DEMO.apps.payments;
    // The seeded key's customKeyIdentifier is a label, not its thumbprint: Rollover matches the
    // Key Vault version to the key by the certificate itself.
    const oldThumbs = thumbs(sb(), app.id);
    expect(ctx.directory.get(urls.tenantId, app.id)!.keyCredentials[0]!.customKeyIdentifier).not.toBe(
      Buffer.from(oldThumbs[0]!, "hex").toString("base64"),
    );
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
    expect(oldThumbs).not.toContain(thumbs(sb(), app.id)[0]);
    expect(thumbs(sb(), app.id)).toEqual([ctx.vault.latest(app.certificate)!.thumbprintHex]);
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
