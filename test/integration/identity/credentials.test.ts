/** Each credential kind of EntraAgentId, against the sandbox's Entra, managed identity endpoint and Key Vault. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { EntraAgentId } from "../../../shared/identity/index.js";
import { useSandbox } from "../../helpers/sandbox.js";
import {
  addCert,
  createVaultCertificate,
  claims,
  GRAPH,
  registerApp,
  signInsFor,
  tempDir,
  useSandboxManagedIdentity,
  vaultCredential,
} from "./helpers.js";

const sb = useSandbox();
const open: EntraAgentId[] = [];
function track(a: EntraAgentId): EntraAgentId {
  open.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

describe("EntraAgentId credential kinds", () => {
  it("certificatePath: signs in with the certificate in the file", async () => {
    const h = sb();
    const app = await registerApp(h, "svc-file");
    const path = join(tempDir(), "cert.pem");
    writeFileSync(path, app.cert.pem);
    const agent = track(
      new EntraAgentId({
        tenantId: h.urls.tenantId,
        clientId: app.appId,
        certificatePath: path,
        authorityHost: h.urls.authorityHost,
      }),
    );
    const token = await agent.getToken();
    expect(claims(token)).toMatchObject({ aud: "https://graph.microsoft.com", appid: app.appId });
    expect(await agent.getAuthHeader()).toBe(`Bearer ${token}`);
    expect(agent.certificate?.thumbprint).toBe(app.cert.sha1Hex);
    const log = signInsFor(h, app.appId);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      success: true,
      credentialType: "certificate",
      credential: app.cert.sha1Hex,
    });
  });

  it("certificate: takes the PEM text", async () => {
    const h = sb();
    const app = await registerApp(h, "svc-pem");
    const agent = track(
      new EntraAgentId({
        tenantId: h.urls.tenantId,
        clientId: app.appId,
        certificate: app.cert.pem,
        authorityHost: h.urls.authorityHost,
        scopes: "https://vault.azure.net/.default",
      }),
    );
    expect(claims(await agent.getToken())).toMatchObject({ aud: "https://vault.azure.net" });
    expect(claims(await agent.getToken(GRAPH))).toMatchObject({ aud: "https://graph.microsoft.com" });
    expect(signInsFor(h, app.appId).map((e) => e.credential)).toEqual([app.cert.sha1Hex, app.cert.sha1Hex]);
  });

  it("keyVaultCertificate: Key Vault signs the assertion; the key never leaves the vault", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "svc-kv" });
    const v = await createVaultCertificate(h, "svc-kv-cert");
    addCert(h, app.id, v.cerDer);
    const agent = track(
      new EntraAgentId({
        tenantId: h.urls.tenantId,
        clientId: app.appId,
        keyVaultCertificate: {
          vaultUrl: h.urls.vaultUrl,
          name: "svc-kv-cert",
          credential: vaultCredential(h),
        },
        authorityHost: h.urls.authorityHost,
      }),
    );
    expect(claims(await agent.getToken())).toMatchObject({ appid: app.appId, appidacr: "2" });
    expect(agent.certificate?.thumbprint).toBe(v.thumbprintHex);
    expect(agent.certificate?.source).toContain(`/certificates/svc-kv-cert/${v.version}`);
    expect(signInsFor(h, app.appId)).toEqual([
      expect.objectContaining({ success: true, credential: v.thumbprintHex }),
    ]);
  });

  it("keyVaultCertificate: defaults to DefaultAzureCredential for the vault", async () => {
    const h = sb();
    useSandboxManagedIdentity(h);
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "svc-kv-default" });
    const v = await createVaultCertificate(h, "svc-kv-default");
    addCert(h, app.id, v.cerDer);
    const agent = track(
      new EntraAgentId({
        tenantId: h.urls.tenantId,
        clientId: app.appId,
        keyVaultCertificate: { vaultUrl: h.urls.vaultUrl, name: "svc-kv-default" },
        authorityHost: h.urls.authorityHost,
      }),
    );
    expect(claims(await agent.getToken())).toMatchObject({ appid: app.appId });
    expect(signInsFor(h, app.appId)[0]?.credential).toBe(v.thumbprintHex);
  });

  it("clientSecret: signs in with the secret", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "svc-secret" });
    const pw = h.ctx.directory.addPasswordCredential(t, app.id, {
      endDateTime: new Date(h.ctx.clock.now() + 86_400_000).toISOString(),
    });
    const agent = track(
      new EntraAgentId({
        tenantId: h.urls.tenantId,
        clientId: app.appId,
        clientSecret: pw.secretText,
        authorityHost: h.urls.authorityHost,
      }),
    );
    expect(claims(await agent.getToken())).toMatchObject({ appid: app.appId, appidacr: "1" });
    expect(signInsFor(h, app.appId)).toEqual([
      expect.objectContaining({ success: true, credentialType: "secret", credential: pw.keyId }),
    ]);
  });

  it("managedIdentity: true and by client id", async () => {
    const h = sb();
    useSandboxManagedIdentity(h);
    const mi = h.ctx.managedIdentity;
    const before = signInsFor(h, mi.clientId).length;
    const system = track(new EntraAgentId({ managedIdentity: true }));
    expect(claims(await system.getToken())).toMatchObject({ appid: mi.clientId, oid: mi.objectId });
    const user = track(
      new EntraAgentId({ managedIdentity: mi.clientId, scopes: "https://vault.azure.net/.default" }),
    );
    expect(claims(await user.getToken())).toMatchObject({
      aud: "https://vault.azure.net",
      appid: mi.clientId,
    });
    expect(signInsFor(h, mi.clientId).slice(before)).toEqual([
      expect.objectContaining({
        credentialType: "managedIdentity",
        success: true,
        resource: "https://graph.microsoft.com",
      }),
      expect.objectContaining({
        credentialType: "managedIdentity",
        success: true,
        resource: "https://vault.azure.net",
      }),
    ]);
  });

  it("reports Entra's refusal with its AADSTS code, the thumbprint and a fix, without secrets", async () => {
    const h = sb();
    const app = await registerApp(h, "svc-unregistered");
    const t = h.ctx.directory.defaultTenantId;
    const other = h.ctx.directory.createApplication(t, { displayName: "svc-other" });
    const agent = track(
      new EntraAgentId({
        tenantId: h.urls.tenantId,
        clientId: other.appId,
        certificate: app.cert.pem,
        authorityHost: h.urls.authorityHost,
      }),
    );
    const err = (await agent.getToken().then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string; aadsts: number };
    expect(err).toMatchObject({ name: "EntraAgentIdError", code: "authentication_failed", aadsts: 700027 });
    expect(err.message).toContain(app.cert.sha1Hex);
    expect(err.message).toMatch(/register this certificate/);
    expect(err.message).not.toMatch(/PRIVATE KEY|eyJ/);
  });

  it("names a missing Key Vault certificate, and keeps no bearer token in the error or its causes", async () => {
    const h = sb();
    const agent = track(
      new EntraAgentId({
        tenantId: h.urls.tenantId,
        clientId: "00000000-0000-4000-8000-000000000404",
        keyVaultCertificate: {
          vaultUrl: h.urls.vaultUrl,
          name: "no-such-cert",
          credential: vaultCredential(h),
        },
        authorityHost: h.urls.authorityHost,
      }),
    );
    const err = (await agent.getToken().then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string };
    expect(err).toMatchObject({ code: "key_vault" });
    expect(err.message).toMatch(
      /Key Vault certificate 'no-such-cert'.*check keyVaultCertificate\.name and vaultUrl/,
    );
    expect(inspect(err, { depth: 20 })).not.toMatch(/eyJ|Bearer /);
  });
});
