/**
 * Certificate hot reload: a new PEM at certificatePath (watched, or polled) and a new Key Vault
 * version are picked up without a restart; a certificate error from Entra reloads and retries once.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EntraAgentId, type EntraAgentIdOptions } from "../../../shared/identity/index.js";
import { useSandbox } from "../../helpers/sandbox.js";
import {
  addCert,
  createVaultCertificate,
  makeCert,
  registerApp,
  signInsFor,
  tempDir,
  until,
  vaultCredential,
  writePemAtomically,
} from "./helpers.js";

const sb = useSandbox();
const MIN = 60_000;
const open: EntraAgentId[] = [];
function make(o: EntraAgentIdOptions): EntraAgentId {
  const a = new EntraAgentId(o);
  open.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

function base() {
  const h = sb();
  return { tenantId: h.urls.tenantId, authorityHost: h.urls.authorityHost, now: () => h.ctx.clock.now() };
}

describe("hot reload from certificatePath", () => {
  it("picks up a new certificate written to the file (watch) and signs in with it", async () => {
    const h = sb();
    const app = await registerApp(h, "reload-watch");
    const path = join(tempDir(), "client.pem");
    writeFileSync(path, app.cert.pem);
    const agent = make({
      ...base(),
      clientId: app.appId,
      certificatePath: path,
      certificatePollIntervalMs: 0,
    });
    await agent.getToken();
    const next = await makeCert({ subject: "CN=reload-watch-2" });
    addCert(h, app.id, next.der);
    writePemAtomically(path, next.pem);
    await until(() => agent.certificate?.thumbprint === next.sha1Hex, "the new certificate to load");
    await h.ctx.clock.advance(56 * MIN);
    await agent.getToken();
    expect(signInsFor(h, app.appId).map((e) => e.credential)).toEqual([app.cert.sha1Hex, next.sha1Hex]);
  });

  it("falls back to polling when watching is off", async () => {
    const h = sb();
    const app = await registerApp(h, "reload-poll");
    const path = join(tempDir(), "client.pem");
    writeFileSync(path, app.cert.pem);
    const agent = make({
      ...base(),
      clientId: app.appId,
      certificatePath: path,
      watchCertificateFile: false,
      certificatePollIntervalMs: 50,
    });
    await agent.getToken();
    const next = await makeCert({ subject: "CN=reload-poll-2" });
    addCert(h, app.id, next.der);
    writeFileSync(path, next.pem);
    await until(() => agent.certificate?.thumbprint === next.sha1Hex, "the polled certificate to load");
    await h.ctx.clock.advance(56 * MIN);
    await agent.getToken();
    expect(signInsFor(h, app.appId).at(-1)?.credential).toBe(next.sha1Hex);
  });

  it("keeps the working certificate when the file is replaced by one it cannot use", async () => {
    const h = sb();
    const app = await registerApp(h, "reload-bad");
    const path = join(tempDir(), "client.pem");
    writeFileSync(path, app.cert.pem);
    const errors: Error[] = [];
    const agent = make({
      ...base(),
      clientId: app.appId,
      certificatePath: path,
      onBackgroundError: (e) => errors.push(e),
    });
    await agent.getToken();
    writePemAtomically(path, app.cert.certPem); // no private key
    await until(() => errors.length > 0, "the reload error");
    expect(errors[0]?.message).toMatch(/holds no private key/);
    expect(errors[0]?.message).not.toMatch(/BEGIN/);
    expect(agent.certificate?.thumbprint).toBe(app.cert.sha1Hex);
    await h.ctx.clock.advance(56 * MIN);
    await agent.getToken();
    expect(signInsFor(h, app.appId).map((e) => e.success)).toEqual([true, true]);
  });
});

describe("hot reload from Key Vault", () => {
  it("picks up a new Key Vault version by polling and signs in with it", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "reload-kv" });
    const v1 = await createVaultCertificate(h, "reload-kv");
    addCert(h, app.id, v1.cerDer);
    const agent = make({
      ...base(),
      clientId: app.appId,
      keyVaultCertificate: { vaultUrl: h.urls.vaultUrl, name: "reload-kv", credential: vaultCredential(h) },
      certificatePollIntervalMs: 50,
    });
    await agent.getToken();
    const v2 = await createVaultCertificate(h, "reload-kv");
    addCert(h, app.id, v2.cerDer);
    await until(() => agent.certificate?.thumbprint === v2.thumbprintHex, "the new version to load");
    await h.ctx.clock.advance(56 * MIN);
    await agent.getToken();
    expect(signInsFor(h, app.appId).map((e) => e.credential)).toEqual([v1.thumbprintHex, v2.thumbprintHex]);
  });
});

describe("certificate error: reload and retry once", () => {
  it("Key Vault: the old key expired, the new version was never polled — reloads, retries, succeeds", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "retry-kv" });
    const v1 = await createVaultCertificate(h, "retry-kv");
    addCert(h, app.id, v1.cerDer, new Date(h.ctx.clock.now() + 120 * MIN).toISOString());
    const agent = make({
      ...base(),
      clientId: app.appId,
      keyVaultCertificate: { vaultUrl: h.urls.vaultUrl, name: "retry-kv", credential: vaultCredential(h) },
      certificatePollIntervalMs: 0,
    });
    await agent.getToken();
    const v2 = await createVaultCertificate(h, "retry-kv");
    addCert(h, app.id, v2.cerDer);
    await h.ctx.clock.advance(121 * MIN);
    await agent.getToken();
    expect(agent.certificate?.thumbprint).toBe(v2.thumbprintHex);
    expect(signInsFor(h, app.appId).map((e) => [e.credential, e.success, e.errorCode])).toEqual([
      [v1.thumbprintHex, true, undefined],
      [v1.thumbprintHex, false, 700027],
      [v2.thumbprintHex, true, undefined],
    ]);
  });

  it("Key Vault: a new version not attached yet — falls back to the previous version", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "retry-kv-previous" });
    const v1 = await createVaultCertificate(h, "retry-kv-previous");
    addCert(h, app.id, v1.cerDer);
    const v2 = await createVaultCertificate(h, "retry-kv-previous"); // pending attach
    const agent = make({
      ...base(),
      clientId: app.appId,
      keyVaultCertificate: {
        vaultUrl: h.urls.vaultUrl,
        name: "retry-kv-previous",
        credential: vaultCredential(h),
      },
      certificatePollIntervalMs: 0,
    });
    await agent.getToken();
    // Entra logs an unknown key by the thumbprint the client sent: x5t#S256 here.
    const v2Sha256 = createHash("sha256").update(v2.cerDer).digest("hex").toUpperCase();
    expect(signInsFor(h, app.appId).map((e) => [e.credential, e.success, e.errorCode])).toEqual([
      [v2Sha256, false, 700027],
      [v1.thumbprintHex, true, undefined],
    ]);
    expect(agent.certificate?.thumbprint).toBe(v2.thumbprintHex);
  });

  it("file: the old key expired and the file changed unseen — reloads, retries, succeeds", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "retry-file" });
    const a = await makeCert({ subject: "CN=retry-file-a" });
    addCert(h, app.id, a.der, new Date(h.ctx.clock.now() + 120 * MIN).toISOString());
    const path = join(tempDir(), "client.pem");
    writeFileSync(path, a.pem);
    const agent = make({
      ...base(),
      clientId: app.appId,
      certificatePath: path,
      watchCertificateFile: false,
      certificatePollIntervalMs: 0,
    });
    await agent.getToken();
    const b = await makeCert({ subject: "CN=retry-file-b" });
    addCert(h, app.id, b.der);
    writeFileSync(path, b.pem);
    await h.ctx.clock.advance(121 * MIN);
    await agent.getToken();
    expect(signInsFor(h, app.appId).map((e) => [e.credential, e.success, e.errorCode])).toEqual([
      [a.sha1Hex, true, undefined],
      [a.sha1Hex, false, 700027],
      [b.sha1Hex, true, undefined],
    ]);
  });

  it("retries only once: with nothing new to load, the certificate error reaches the caller", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "retry-none" });
    const a = await makeCert({ subject: "CN=retry-none" });
    addCert(h, app.id, a.der, new Date(h.ctx.clock.now() + 120 * MIN).toISOString());
    const agent = make({ ...base(), clientId: app.appId, certificate: a.pem });
    await agent.getToken();
    await h.ctx.clock.advance(121 * MIN);
    await expect(agent.getToken()).rejects.toMatchObject({ code: "authentication_failed", aadsts: 700027 });
    expect(signInsFor(h, app.appId).map((e) => e.success)).toEqual([true, false]);
  });
});
