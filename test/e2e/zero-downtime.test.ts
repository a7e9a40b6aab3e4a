/**
 * Zero-downtime rotation: a service calls getToken every 100 ms while its certificate is renewed
 * in Key Vault, attached to the application, verified, and — after the grace window — the old key
 * is retired. No call may fail, and once the old key is gone every token is issued for the new
 * certificate.
 *
 * The rotation steps are performed here directly on the sandbox (Key Vault version, directory key
 * credential, Graph PATCH to retire), in the order the rotation engine performs them
 * (DESIGN.md: pending → attached → verified → active, retire after grace).
 */
import { afterAll, describe, expect, it } from "vitest";
import { EntraAgentId } from "../../shared/identity/index.js";
import { useSandbox } from "../helpers/sandbox.js";
import {
  addCert,
  createVaultCertificate,
  signInsFor,
  until,
  vaultCredential,
} from "../integration/identity/helpers.js";

const sb = useSandbox();
const GRACE_MS = 60 * 60_000;

describe("zero-downtime rotation", () => {
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });

  it("a client calling getToken every 100 ms sees no failure through renew, attach, verify and retire", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "zero-downtime-service" });
    const v1 = await createVaultCertificate(h, "zero-downtime");
    const oldKey = addCert(h, app.id, v1.cerDer);
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
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await pause(500);

    // renew: Key Vault issues a new version (pending: not attached yet).
    const v2 = await createVaultCertificate(h, "zero-downtime");
    await until(
      () => client.certificate?.thumbprint === v2.thumbprintHex,
      "the client to load the new version",
    );
    await pause(700);

    // attach: the new certificate joins the application's keyCredentials.
    const newKey = addCert(h, app.id, v2.cerDer);
    // verify: a token is issued for the new certificate.
    await until(
      () => signInsFor(h, app.appId).some((e) => e.success && e.credential === v2.thumbprintHex),
      "a sign-in with the new certificate",
      20_000,
    );
    await pause(500);

    // grace window, then retire the old key (Graph PATCH keeps only the new key).
    await h.ctx.clock.advance(GRACE_MS);
    await pause(300);
    const admin = h.ctx.directory.createApplication(t, { displayName: "zero-downtime-operator" });
    const adminSp = h.ctx.directory.findByAppId(t, admin.appId, "servicePrincipal");
    h.ctx.directory.grantAppRole(t, adminSp?.id ?? "", "Application.ReadWrite.All");
    const pw = h.ctx.directory.addPasswordCredential(t, admin.id, {
      endDateTime: new Date(h.ctx.clock.now() + 86_400_000).toISOString(),
    });
    const operator = new EntraAgentId({
      tenantId: h.urls.tenantId,
      clientId: admin.appId,
      clientSecret: pw.secretText,
      authorityHost: h.urls.authorityHost,
      now: () => h.ctx.clock.now(),
    });
    closers.push(() => operator.close());
    const patch = await fetch(`${h.urls.graphBaseUrl}v1.0/applications/${app.id}`, {
      method: "PATCH",
      headers: { Authorization: await operator.getAuthHeader(), "Content-Type": "application/json" },
      body: JSON.stringify({ keyCredentials: [{ keyId: newKey.keyId }] }),
    });
    expect(patch.status).toBe(204);
    expect(h.ctx.directory.get(t, app.id)?.keyCredentials.map((k) => k.keyId)).toEqual([newKey.keyId]);
    const retiredAt = signInsFor(h, app.appId).length;
    await pause(2_000);

    running = false;
    await loop;
    expect(oldKey.keyId).not.toBe(newKey.keyId);
    expect(calls).toBeGreaterThan(20);
    expect(failures.map((e) => (e as Error).message)).toEqual([]);
    const after = signInsFor(h, app.appId).slice(retiredAt);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(after.filter((e) => !(e.success && e.credential === v2.thumbprintHex))).toEqual([]);
  });
});
