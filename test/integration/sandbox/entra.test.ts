import { randomUUID } from "node:crypto";
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from "@azure/identity";
import { decodeJwt, importPKCS8, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DIRECTORY_ROLES } from "../../../sandbox/entra/operator.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const GRAPH = "https://graph.microsoft.com/.default";
const sb = useSandbox();

function opts() {
  return { authorityHost: sb().urls.authorityHost, disableInstanceDiscovery: true };
}

async function assertion(
  cert: TestCert,
  clientId: string,
  aud: string,
  o: { alg?: "RS256" | "PS256"; nbf?: number; exp?: number } = {},
): Promise<string> {
  const alg = o.alg ?? "RS256";
  const key = await importPKCS8(cert.keyPem, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader(
      alg === "RS256" ? { alg, typ: "JWT", x5t: cert.x5t } : { alg, typ: "JWT", "x5t#S256": cert.x5tS256 },
    )
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(aud)
    .setNotBefore(o.nbf ?? now)
    .setExpirationTime(o.exp ?? now + 600)
    .sign(key);
}

async function postToken(
  tenant: string,
  form: Record<string, string>,
  contentType = "application/x-www-form-urlencoded",
) {
  const res = await fetch(`${sb().urls.authorityHost}/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "Content-Type": contentType },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("Entra token endpoint", () => {
  let cert: TestCert;
  let other: TestCert;
  let app: { id: string; appId: string };
  let spId: string;

  beforeAll(async () => {
    [cert, other] = await Promise.all([
      makeCert({ subject: "CN=entra-app" }),
      makeCert({ subject: "CN=other" }),
    ]);
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const a = ctx.directory.createApplication(t, { displayName: "entra-app" });
    app = { id: a.id, appId: a.appId };
    ctx.directory.addKeyCredential(t, a.id, { certificateDer: cert.der });
    const sp = ctx.directory.findByAppId(t, a.appId, "servicePrincipal");
    spId = sp?.id as string;
    ctx.directory.grantAppRole(t, spId, "Application.ReadWrite.OwnedBy");
  });

  it("publishes OpenID metadata and JWKS for a tenant, and AADSTS90002 for an unknown one", async () => {
    const { urls } = sb();
    const meta = (await (
      await fetch(`${urls.authorityHost}/${urls.tenantId}/v2.0/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    expect(meta.token_endpoint).toBe(`${urls.authorityHost}/${urls.tenantId}/oauth2/v2.0/token`);
    const jwks = (await (await fetch(meta.jwks_uri as string)).json()) as { keys: unknown[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    const bad = await fetch(`${urls.authorityHost}/${randomUUID()}/v2.0/.well-known/openid-configuration`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error_codes: number[] }).error_codes).toEqual([90002]);
  });

  it("issues a token to ClientCertificateCredential (PS256, x5t#S256) with tid, oid, appid and roles", async () => {
    const { urls, ctx } = sb();
    const cred = new ClientCertificateCredential(urls.tenantId, app.appId, { certificate: cert.pem }, opts());
    const tok = await cred.getToken(GRAPH);
    const claims = decodeJwt(tok.token);
    expect(claims).toMatchObject({
      aud: "https://graph.microsoft.com",
      tid: urls.tenantId,
      oid: spId,
      appid: app.appId,
      roles: ["Application.ReadWrite.OwnedBy"],
    });
    const entry = ctx.signIns.entries().find((e) => e.clientId === app.appId && e.success);
    expect(entry).toMatchObject({
      credentialType: "certificate",
      credential: cert.sha1Hex,
      resource: "https://graph.microsoft.com",
    });
  });

  it("accepts an RS256 assertion with x5t through ClientAssertionCredential", async () => {
    const { urls } = sb();
    const aud = `${urls.authorityHost}/${urls.tenantId}/oauth2/v2.0/token`;
    const cred = new ClientAssertionCredential(
      urls.tenantId,
      app.appId,
      () => assertion(cert, app.appId, aud),
      opts(),
    );
    const tok = await cred.getToken("https://vault.azure.net/.default");
    expect(decodeJwt(tok.token).aud).toBe("https://vault.azure.net");
  });

  it("issues tokens for client secrets, 7000215 for a wrong one and 7000222 for an expired one", async () => {
    const { urls, ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const pw = ctx.directory.addPasswordCredential(t, app.id, {
      endDateTime: new Date(Date.now() + 86400_000).toISOString(),
    });
    const tok = await new ClientSecretCredential(urls.tenantId, app.appId, pw.secretText, opts()).getToken(
      GRAPH,
    );
    expect(decodeJwt(tok.token).appid).toBe(app.appId);
    expect(
      ctx.signIns.entries().some((e) => e.credentialType === "secret" && e.credential === pw.keyId),
    ).toBe(true);

    const wrong = new ClientSecretCredential(urls.tenantId, app.appId, "not-the-secret", opts());
    await expect(wrong.getToken(GRAPH)).rejects.toThrow(/AADSTS7000215/);
    const old = ctx.directory.addPasswordCredential(t, app.id, {
      startDateTime: new Date(Date.now() - 10 * 86400_000).toISOString(),
      endDateTime: new Date(Date.now() - 86400_000).toISOString(),
    });
    const res = await postToken(urls.tenantId, {
      grant_type: "client_credentials",
      client_id: app.appId,
      client_secret: old.secretText,
      scope: GRAPH,
    });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: "invalid_client", error_codes: [7000222] });
    expect(String(res.body.error_description)).toMatch(/^AADSTS7000222: .*\r\nTrace ID: /s);
  });

  it("answers AADSTS700016 for an unknown application", async () => {
    const { urls } = sb();
    const cred = new ClientCertificateCredential(
      urls.tenantId,
      randomUUID(),
      { certificate: cert.pem },
      opts(),
    );
    await expect(cred.getToken(GRAPH)).rejects.toThrow(/AADSTS700016/);
    const res = await postToken(sb().urls.tenantId, {
      grant_type: "client_credentials",
      client_id: randomUUID(),
      client_secret: "x",
      scope: GRAPH,
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "unauthorized_client", error_codes: [700016] });
  });

  it("answers AADSTS700027 for an unregistered key, a removed key and a key expired on the virtual clock", async () => {
    const { urls, ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const aud = `${urls.authorityHost}/${urls.tenantId}/oauth2/v2.0/token`;
    const form = async (c: TestCert, clientId: string, alg: "RS256" | "PS256" = "PS256") => ({
      grant_type: "client_credentials",
      client_id: clientId,
      scope: GRAPH,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: await assertion(c, clientId, aud, { alg }),
    });
    const unknown = await postToken(urls.tenantId, await form(other, app.appId));
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({ error: "invalid_client", error_codes: [700027] });
    expect(String(unknown.body.error_description)).toContain(other.sha256Hex);

    // A second app whose only key is removed through Graph-equivalent directory state.
    const b = ctx.directory.createApplication(t, { displayName: "removed-key" });
    const kc = ctx.directory.addKeyCredential(t, b.id, { certificateDer: other.der });
    expect((await postToken(urls.tenantId, await form(other, b.appId))).status).toBe(200);
    const live = (
      ctx.directory as unknown as { object(t: string, id: string): { keyCredentials: { keyId: string }[] } }
    ).object(t, b.id);
    live.keyCredentials = live.keyCredentials.filter((k) => k.keyId !== kc.keyId);
    const removed = await postToken(urls.tenantId, await form(other, b.appId, "RS256"));
    expect(removed.body.error_codes).toEqual([700027]);

    const c = ctx.directory.createApplication(t, { displayName: "expiring-key" });
    ctx.directory.addKeyCredential(t, c.id, {
      certificateDer: other.der,
      endDateTime: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect((await postToken(urls.tenantId, await form(other, c.appId))).status).toBe(200);
    await ctx.clock.advance(2 * 3600_000);
    const expired = await postToken(urls.tenantId, await form(other, c.appId));
    expect(expired.body.error_codes).toEqual([700027]);
    expect(String(expired.body.error_description)).toContain("The key used is expired");
    const failures = ctx.signIns.entries().filter((e) => e.clientId === c.appId && !e.success);
    expect(failures.at(-1)).toMatchObject({ errorCode: 700027, credential: other.sha1Hex });
  });

  it("answers AADSTS700024 for an assertion outside its time range, 900144 for a non-form body", async () => {
    const { urls } = sb();
    const aud = `${urls.authorityHost}/${urls.tenantId}/oauth2/v2.0/token`;
    const past = Math.floor(Date.now() / 1000) - 7200;
    const res = await postToken(urls.tenantId, {
      grant_type: "client_credentials",
      client_id: app.appId,
      scope: GRAPH,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: await assertion(cert, app.appId, aud, { nbf: past, exp: past + 600 }),
    });
    expect(res.body).toMatchObject({ error: "invalid_client", error_codes: [700024] });
    const json = await postToken(urls.tenantId, { grant_type: "client_credentials" }, "application/json");
    expect(json.status).toBe(400);
    expect(json.body).toMatchObject({ error: "invalid_request", error_codes: [900144] });
  });

  it("selects the tenant from the path: an application of a second tenant", async () => {
    const { urls, ctx } = sb();
    const second = randomUUID();
    ctx.directory.addTenant(second, "Fabrikam");
    const a = ctx.directory.createApplication(second, { displayName: "fabrikam-app" });
    ctx.directory.addKeyCredential(second, a.id, { certificateDer: cert.der });
    const tok = await new ClientCertificateCredential(
      second,
      a.appId,
      { certificate: cert.pem },
      opts(),
    ).getToken(GRAPH);
    expect(decodeJwt(tok.token).tid).toBe(second);
    const wrongTenant = new ClientCertificateCredential(
      urls.tenantId,
      a.appId,
      { certificate: cert.pem },
      opts(),
    );
    await expect(wrongTenant.getToken(GRAPH)).rejects.toThrow(/AADSTS700016/);
  });

  it("runs the agent identity exchange: blueprint with fmi_path, then the agent identity with the exchange token", async () => {
    const { urls, ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const bp = ctx.directory.createApplication(t, {
      displayName: "blueprint",
      kind: "agentIdentityBlueprint",
    });
    ctx.directory.addKeyCredential(t, bp.id, { certificateDer: cert.der });
    const agentId = randomUUID();
    ctx.directory.createServicePrincipal(t, {
      appId: agentId,
      kind: "agentIdentity",
      blueprintAppId: bp.appId,
      displayName: "agent",
    });
    ctx.directory.grantAppRole(t, agentId, "Application.Read.All");
    const aud = `${urls.authorityHost}/${urls.tenantId}/oauth2/v2.0/token`;
    const leg1 = await postToken(urls.tenantId, {
      grant_type: "client_credentials",
      client_id: bp.appId,
      scope: "api://AzureADTokenExchange/.default",
      fmi_path: agentId,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: await assertion(cert, bp.appId, aud, { alg: "PS256" }),
    });
    expect(leg1.status).toBe(200);
    const t1 = String(leg1.body.access_token);
    expect(decodeJwt(t1)).toMatchObject({ aud: "api://AzureADTokenExchange", sub: agentId, appid: bp.appId });
    const agentCred = new ClientAssertionCredential(urls.tenantId, agentId, async () => t1, opts());
    const tok = await agentCred.getToken(GRAPH);
    expect(decodeJwt(tok.token)).toMatchObject({
      oid: agentId,
      appid: agentId,
      roles: ["Application.Read.All"],
    });
    // Another blueprint's exchange token is refused.
    const other = ctx.directory.createServicePrincipal(t, {
      appId: randomUUID(),
      kind: "agentIdentity",
      blueprintAppId: randomUUID(),
    });
    const bad = new ClientAssertionCredential(urls.tenantId, other.appId, async () => t1, opts());
    await expect(bad.getToken(GRAPH)).rejects.toThrow(/AADSTS7002/);
  });
});

describe("managed identity endpoint (App Service)", () => {
  it("serves ManagedIdentityCredential through IDENTITY_ENDPOINT / IDENTITY_HEADER", async () => {
    const { urls, ctx } = sb();
    ctx.directory.grantAppRole(
      ctx.directory.defaultTenantId,
      ctx.managedIdentity.objectId,
      "Application.ReadWrite.OwnedBy",
    );
    process.env.IDENTITY_ENDPOINT = urls.managedIdentityEndpoint;
    process.env.IDENTITY_HEADER = ctx.managedIdentity.header;
    try {
      const tok = await new ManagedIdentityCredential().getToken(GRAPH);
      expect(decodeJwt(tok.token)).toMatchObject({
        aud: "https://graph.microsoft.com",
        oid: ctx.managedIdentity.objectId,
        appid: ctx.managedIdentity.clientId,
      });
      // Every seed grants Rollover's identity Application.Read.All; this test adds OwnedBy.
      expect([...((decodeJwt(tok.token) as { roles: string[] }).roles ?? [])].sort()).toEqual([
        "Application.Read.All",
        "Application.ReadWrite.OwnedBy",
      ]);
      expect(tok.expiresOnTimestamp).toBeGreaterThan(Date.now() + 30 * 60_000);
      const uai = await new ManagedIdentityCredential({ clientId: ctx.managedIdentity.clientId }).getToken(
        "https://vault.azure.net/.default",
      );
      expect(decodeJwt(uai.token).aud).toBe("https://vault.azure.net");
    } finally {
      delete process.env.IDENTITY_ENDPOINT;
      delete process.env.IDENTITY_HEADER;
    }
    const res = await fetch(
      `${urls.managedIdentityEndpoint}?resource=https://vault.azure.net&api-version=2019-08-01`,
      {
        headers: { "X-IDENTITY-HEADER": "wrong" },
      },
    );
    expect(res.status).toBe(401);
    const ok = await fetch(
      `${urls.managedIdentityEndpoint}?resource=https://vault.azure.net&api-version=2019-08-01`,
      {
        headers: { "X-IDENTITY-HEADER": ctx.managedIdentity.header },
      },
    );
    const body = (await ok.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      "access_token",
      "client_id",
      "expires_on",
      "resource",
      "token_type",
    ]);
    expect(body.expires_on).toMatch(/^\d+$/);
  });

  it("the operator: a user token at home, its guest account's token in a tenant where it is a guest, AADSTS50020 where it has none", async () => {
    const { ctx } = sb();
    const op = ctx.operator;
    const home = ctx.directory.defaultTenantId;
    const [guestTenant, strange] = [
      "5a1e0000-0000-4000-8000-0000000000a1",
      "5a1e0000-0000-4000-8000-0000000000a2",
    ];
    ctx.directory.addTenant(guestTenant, "Guest Tenant");
    ctx.directory.addTenant(strange, "Strange Tenant");
    const guestId = "5a1e0000-0000-4000-8000-00000000a0b1";
    op.guestOf[guestTenant] = { objectId: guestId, roles: [DIRECTORY_ROLES.cloudApplicationAdministrator] };
    const form = {
      grant_type: "client_credentials",
      client_id: op.clientId,
      client_secret: op.secret,
      scope: GRAPH,
    };

    const atHome = await postToken(home, form);
    expect(atHome.status).toBe(200);
    expect(decodeJwt(String(atHome.body.access_token))).toMatchObject({
      tid: home,
      oid: op.objectId,
      idtyp: "user",
      upn: op.upn,
      wids: op.roles,
    });

    const asGuest = await postToken(guestTenant, form);
    expect(asGuest.status).toBe(200);
    const claims = decodeJwt(String(asGuest.body.access_token));
    expect(claims).toMatchObject({
      tid: guestTenant,
      iss: `https://sts.windows.net/${guestTenant}/`,
      oid: guestId,
      idtyp: "user",
      idp: `https://sts.windows.net/${home}/`,
      scp: op.scopes.join(" "),
      wids: [DIRECTORY_ROLES.cloudApplicationAdministrator],
    });
    expect(claims.upn).toBeUndefined();

    const refused = await postToken(strange, form);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: "invalid_grant", error_codes: [50020] });
    expect(String(refused.body.error_description)).toMatch(
      /^AADSTS50020: User account 'operator@sandbox\.rollover\.test' from identity provider .* does not exist in tenant 'Strange Tenant' .*\r\nTrace ID: /s,
    );
    // The guest's secret is still the person's: a wrong one is refused before the tenant is looked at.
    expect((await postToken(guestTenant, { ...form, client_secret: "wrong" })).body.error_codes).toEqual([
      7000215,
    ]);
  });
});
