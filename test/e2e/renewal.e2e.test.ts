/**
 * End to end with `rollover serve`, the sandbox and Azurite: Key Vault's Event Grid events drive
 * a rotation, and the reconcile timer retires the old key after the grace window.
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../sandbox/seeds.js";
import { useSandbox } from "../helpers/sandbox.js";
import { thumbprintsOf, useServe, webhookUrl } from "./serve-helpers.js";

const HOUR = 3_600_000;
const sb = useSandbox({ seed: "demo", azurite: true });
const serve = useServe(sb);

describe("keyVaultEvents and reconcile through serve", () => {
  it("a near-expiry event leads to renew → attach → verify, and retirement after the grace window", async () => {
    const h = sb();
    const s = serve();
    const app = DEMO.apps.payments;
    const before = h.ctx.vault.latest(app.certificate)!;
    expect(thumbprintsOf(h, app.id)).toEqual([before.thumbprintHex]);
    await h.eventGrid.subscribe({ name: "rollover", endpointUrl: webhookUrl(s) });

    // payments-api expires in 20 days: the next move of the clock fires CertificateNearExpiry.
    await h.ctx.clock.advance(60_000);
    await h.eventGrid.flush();

    const versions = h.ctx.vault.versions(app.certificate);
    expect(versions).toHaveLength(2);
    const renewed = h.ctx.vault.latest(app.certificate)!;
    expect(renewed.version).not.toBe(before.version);
    expect(thumbprintsOf(h, app.id).sort()).toEqual([before.thumbprintHex, renewed.thumbprintHex].sort());
    // verified: Entra issued a token for the new certificate
    expect(
      h.ctx.signIns
        .entries()
        .some((e) => e.clientId === app.appId && e.success && e.credential === renewed.thumbprintHex),
    ).toBe(true);
    const deliveries = h.eventGrid.deliveries({ subscription: "rollover" });
    const types = new Set(deliveries.filter((d) => d.subject === app.certificate).map((d) => d.eventType));
    expect(types).toEqual(
      new Set([
        "Microsoft.KeyVault.CertificateNearExpiry",
        "Microsoft.KeyVault.CertificateNewVersionCreated",
      ]),
    );
    expect(deliveries.filter((d) => d.outcome === "failed")).toEqual([]);

    // Within the grace window the old key stays; past it, the reconcile timer retires it.
    await s.fireTimer("reconcile");
    expect(thumbprintsOf(h, app.id)).toHaveLength(2);
    await h.ctx.clock.advance(73 * HOUR);
    await h.eventGrid.flush();
    await s.fireTimer("reconcile");
    expect(thumbprintsOf(h, app.id)).toEqual([renewed.thumbprintHex]);
    expect(h.ctx.vault.versions(app.certificate)).toHaveLength(2);

    // Every step reached the audit table.
    await s.idle();
    const records = h.ctx.logs.records().map((r) => r.record as Record<string, unknown>);
    const forApp = records.filter(
      (r) => r.CertificateName === app.certificate || r.TargetObjectId === app.id,
    );
    const steps = forApp.map((r) => `${r.Action}:${r.Outcome}`);
    expect(steps).toEqual(
      expect.arrayContaining(["renew:succeeded", "attach:succeeded", "verify:succeeded", "retire:succeeded"]),
    );
  });
});
