/**
 * Zero-downtime rotation: a service calls getToken every 100 ms while Rollover's engine renews
 * its certificate in Key Vault, attaches it to the application, verifies it, and — after the
 * grace window — retires the old key. No call may fail, and once the old key is gone every token
 * is issued for the new certificate.
 */
import { afterAll, describe, expect, it } from "vitest";
import { EntraAgentId } from "../../shared/identity/index.js";
import { makeEngine } from "../helpers/engine.js";
import { useSandbox } from "../helpers/sandbox.js";
import { signInsFor, until, vaultCredential } from "../integration/identity/helpers.js";

const sb = useSandbox({ azurite: true });
const DAY = 86_400_000;
const HOUR = 3_600_000;

describe("zero-downtime rotation", () => {
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });

  it("a client calling getToken every 100 ms sees no failure while the engine renews, attaches, verifies and retires", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    h.ctx.directory.grantAppRole(t, h.ctx.managedIdentity.objectId, "Application.Read.All");
    const app = h.ctx.directory.createApplication(t, { displayName: "zero-downtime-service" });
    const now = h.ctx.clock.now();
    const v1 = await h.ctx.vault.createCertificate("zero-downtime", {
      tags: { "rollover-target": app.id },
      notBefore: Math.floor((now - 340 * DAY) / 1000),
      expires: Math.floor((now + 25 * DAY) / 1000),
    });
    h.ctx.directory.addKeyCredential(t, app.id, { certificateDer: v1.cerDer });
    const reader = vaultCredential(h);
    closers.push(() => reader.close());
    const client = new EntraAgentId({
      tenantId: h.urls.tenantId,
      clientId: app.appId,
      keyVaultCertificate: { vaultUrl: h.urls.vaultUrl, name: "zero-downtime", credential: reader },
      authorityHost: h.urls.authorityHost,
      certificatePollIntervalMs: 100,
      now: () => h.ctx.clock.now(),
    });
    closers.push(() => client.close());
    // Sign in often, so that every phase of the rotation sees fresh sign-ins.
    client.setRefreshInterval(300);
    client.enableAutoRefresh(true);

    let calls = 0;
    const failures: unknown[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        calls++;
        await client.getToken().catch((e: unknown) => failures.push(e));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // Each phase lasts a number of the client's calls, not a stretch of real time: however slow
    // the machine, every phase sees the client at work.
    const callsPass = (n: number, what: string) => {
      const target = calls + n;
      return until(() => calls >= target, `${n} getToken calls ${what}`, 20_000);
    };
    await callsPass(5, "before the rotation");

    const { engine } = makeEngine(h);
    const ref = { vaultName: `127.0.0.1:${new URL(h.urls.vaultUrl).port}`, certificateName: "zero-downtime" };
    const first = await engine.reconcile(ref);
    expect(first.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    const v2 = h.ctx.vault.latest("zero-downtime")!;
    await until(
      () => client.certificate?.thumbprint === v2.thumbprintHex,
      "the client to load the new version",
    );
    await callsPass(5, "with the new version loaded");

    await h.ctx.clock.advance(73 * HOUR);
    const second = await engine.reconcile(ref);
    expect(second.steps.map((s) => s.kind)).toEqual(["retire", "none"]);
    const retiredAt = signInsFor(h, app.appId).length;
    await until(
      () => signInsFor(h, app.appId).length >= retiredAt + 2,
      "two sign-ins after the old key was retired",
      20_000,
    );
    await callsPass(5, "after the retirement");

    running = false;
    await loop;
    expect(failures.map((e) => (e as Error).message)).toEqual([]);
    expect(h.ctx.directory.get(t, app.id)?.keyCredentials).toHaveLength(1);
    const after = signInsFor(h, app.appId).slice(retiredAt);
    expect(after.filter((e) => !(e.success && e.credential === v2.thumbprintHex))).toEqual([]);
  });
});
