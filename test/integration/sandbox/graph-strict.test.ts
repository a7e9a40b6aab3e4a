/**
 * Where the sandbox's Graph and Entra follow the real services' strictest documented behaviour:
 * blueprint permissions, proofs, client assertions, paging limits, `key` on lists, caller-chosen
 * customKeyIdentifier, partial delta objects, delta link expiry and replication lag. Each test
 * uses the official SDK where it can send the shape, raw HTTPS where it cannot.
 */
import { randomUUID } from "node:crypto";
import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { Client } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import { importPKCS8, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FaultSpecError, parseFaultSpec } from "../../../sandbox/faults.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const GRAPH = "https://graph.microsoft.com/.default";
const DAY = 86_400_000;
const sb = useSandbox();

function opts() {
  return { authorityHost: sb().urls.authorityHost, disableInstanceDiscovery: true };
}

function graph(cred: TokenCredential): Client {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(cred, { scopes: [GRAPH] }),
    baseUrl: sb().urls.graphBaseUrl,
    customHosts: new Set(["127.0.0.1"]),
  });
}

function principal(name: string, roles: string[]): { spId: string; cred: TokenCredential } {
  const { ctx } = sb();
  const t = ctx.directory.defaultTenantId;
  const app = ctx.directory.createApplication(t, { displayName: name });
  const sp = ctx.directory.findByAppId(t, app.appId, "servicePrincipal")!;
  for (const r of roles) ctx.directory.grantAppRole(t, sp.id, r);
  const pw = ctx.directory.addPasswordCredential(t, app.id, {
    endDateTime: new Date(Date.now() + 10 * DAY).toISOString(),
  });
  return { spId: sp.id, cred: new ClientSecretCredential(t, app.appId, pw.secretText, opts()) };
}

async function proof(
  cert: TestCert,
  objectId: string,
  header: Record<string, unknown> = { alg: "RS256", typ: "JWT", x5t: cert.x5t },
): Promise<string> {
  const alg = String(header.alg);
  const key = await importPKCS8(cert.keyPem, alg);
  const now = Math.floor(sb().ctx.clock.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader(header as { alg: string })
    .setAudience("00000002-0000-0000-c000-000000000000")
    .setIssuer(objectId)
    .setNotBefore(now)
    .setExpirationTime(now + 600)
    .sign(key);
}

async function postToken(form: Record<string, string>) {
  const { urls } = sb();
  const res = await fetch(`${urls.authorityHost}/${urls.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("Graph and Entra: strictest documented behaviour", () => {
  let reader: { spId: string; cred: TokenCredential };
  let cert: TestCert;
  let next: TestCert;

  beforeAll(async () => {
    [cert, next] = await Promise.all([makeCert({ subject: "CN=strict" }), makeCert({ subject: "CN=next" })]);
    reader = principal("strict-reader", ["Application.Read.All"]);
  });

  afterEach(() => {
    sb().ctx.faults.clear();
  });

  function blueprint(name: string) {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const bp = ctx.directory.createApplication(t, { displayName: name, kind: "agentIdentityBlueprint" });
    ctx.directory.addKeyCredential(t, bp.id, { certificateDer: cert.der });
    const principalId = ctx.directory.findByAppId(t, bp.appId, "servicePrincipal")!.id;
    const self = new ClientCertificateCredential(t, bp.appId, { certificate: cert.pem }, opts());
    return { ...bp, principalId, self };
  }

  it("blueprints: addKey as itself needs AgentIdentityBlueprint.AddRemoveCreds.All; OwnedBy covers no blueprint (403 Authorization_RequestDenied)", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const bp = blueprint("strict-bp");
    const addKey = async (cred: TokenCredential) =>
      graph(cred)
        .api(`/applications/${bp.id}/microsoft.graph.agentIdentityBlueprint/addKey`)
        .post({
          keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: next.base64 },
          passwordCredential: null,
          proof: await proof(cert, bp.id),
        });
    // Not documented as permission-free (agentidentityblueprint-addkey.md): refused without a grant.
    await expect(addKey(bp.self)).rejects.toMatchObject({
      statusCode: 403,
      code: "Authorization_RequestDenied",
    });
    // An owner with Application.ReadWrite.OwnedBy may not PATCH or addKey a blueprint.
    const owner = principal("strict-bp-owner", ["Application.ReadWrite.OwnedBy"]);
    ctx.directory.addOwner(t, bp.id, owner.spId);
    await expect(
      graph(owner.cred)
        .api(`/applications/${bp.id}/microsoft.graph.agentIdentityBlueprint`)
        .patch({ keyCredentials: [] }),
    ).rejects.toMatchObject({ statusCode: 403, code: "Authorization_RequestDenied" });
    await expect(addKey(owner.cred)).rejects.toMatchObject({ statusCode: 403 });
    expect(ctx.directory.get(t, bp.id)!.keyCredentials).toHaveLength(1);
    // With the documented least permission on its principal, the blueprint rolls its own key.
    ctx.directory.grantAppRole(t, bp.principalId, "AgentIdentityBlueprint.AddRemoveCreds.All");
    const selfWithGrant = new ClientCertificateCredential(t, bp.appId, { certificate: cert.pem }, opts());
    const added = await addKey(selfWithGrant);
    expect(added.keyId).toBeTruthy();
    // …and a holder of AgentIdentityBlueprint.AddRemoveCreds.All may PATCH credentials.
    const creds = principal("strict-bp-creds", ["AgentIdentityBlueprint.AddRemoveCreds.All"]);
    const current = await graph(reader.cred).api(`/applications/${bp.id}`).select("keyCredentials").get();
    await graph(creds.cred)
      .api(`/applications/${bp.id}/microsoft.graph.agentIdentityBlueprint`)
      .patch({ keyCredentials: current.keyCredentials.slice(1) });
    expect(ctx.directory.get(t, bp.id)!.keyCredentials).toHaveLength(1);
  });

  it("proofs: RS256 with x5t only; PS256 or a proof without x5t is refused (401)", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const app = ctx.directory.createApplication(t, { displayName: "strict-proof" });
    ctx.directory.addKeyCredential(t, app.id, { certificateDer: cert.der });
    const self = graph(new ClientCertificateCredential(t, app.appId, { certificate: cert.pem }, opts()));
    const body = async (header?: Record<string, unknown>) => ({
      keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: next.base64 },
      passwordCredential: null,
      proof: await proof(cert, app.id, header),
    });
    for (const header of [
      { alg: "PS256", typ: "JWT", x5t: cert.x5t },
      { alg: "RS256", typ: "JWT", kid: cert.sha1Hex },
      { alg: "RS256", typ: "JWT", "x5t#S256": cert.x5tS256 },
    ]) {
      await expect(self.api(`/applications/${app.id}/addKey`).post(await body(header))).rejects.toMatchObject(
        {
          statusCode: 401,
          code: "Authentication_MissingOrMalformed",
        },
      );
    }
    expect(ctx.directory.get(t, app.id)!.keyCredentials).toHaveLength(1);
    // customKeyIdentifier is kept as the caller sent it (any value: keycredential.md).
    const custom = Buffer.from("my own label").toString("base64");
    const added = await self.api(`/applications/${app.id}/addKey`).post({
      ...(await body()),
      keyCredential: {
        type: "AsymmetricX509Cert",
        usage: "Verify",
        key: next.base64,
        customKeyIdentifier: custom,
      },
    });
    expect(added.customKeyIdentifier).toBe(custom);
    const read = await graph(reader.cred).api(`/applications/${app.id}`).get();
    expect(read.keyCredentials.map((k: { customKeyIdentifier: string }) => k.customKeyIdentifier)).toContain(
      custom,
    );
  });

  it("client assertions: an array aud and a wrong aud get AADSTS50027; iss ≠ sub gets AADSTS50048", async () => {
    const { ctx, urls } = sb();
    const t = ctx.directory.defaultTenantId;
    const app = ctx.directory.createApplication(t, { displayName: "strict-assertion" });
    ctx.directory.addKeyCredential(t, app.id, { certificateDer: cert.der });
    const aud = `${urls.authorityHost}/${urls.tenantId}/oauth2/v2.0/token`;
    const key = await importPKCS8(cert.keyPem, "RS256");
    const now = Math.floor(ctx.clock.now() / 1000);
    const assertion = (claims: { aud: string | string[]; iss?: string; sub?: string }) =>
      new SignJWT({ jti: randomUUID(), aud: claims.aud })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", x5t: cert.x5t })
        .setIssuer(claims.iss ?? app.appId)
        .setSubject(claims.sub ?? app.appId)
        .setNotBefore(now)
        .setExpirationTime(now + 600)
        .sign(key);
    const form = async (claims: { aud: string | string[]; iss?: string; sub?: string }) => ({
      grant_type: "client_credentials",
      client_id: app.appId,
      scope: GRAPH,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: await assertion(claims),
    });
    expect((await postToken(await form({ aud }))).status).toBe(200);
    const array = await postToken(await form({ aud: [aud] }));
    expect(array.status).toBe(401);
    expect(array.body).toMatchObject({ error: "invalid_client", error_codes: [50027] });
    const wrong = await postToken(await form({ aud: "https://login.example.com/token" }));
    expect(wrong.body).toMatchObject({ error: "invalid_client", error_codes: [50027] });
    const mismatch = await postToken(await form({ aud, sub: randomUUID() }));
    expect(mismatch.body).toMatchObject({ error: "invalid_client", error_codes: [50048] });
  });

  it("blueprint lists: default and maximum page size 100; key is null on every list", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    for (let i = 0; i < 105; i++) {
      const bp = ctx.directory.createApplication(t, {
        displayName: `strict-page-${i}`,
        kind: "agentIdentityBlueprint",
      });
      if (i === 0) ctx.directory.addKeyCredential(t, bp.id, { certificateDer: cert.der });
    }
    const client = graph(principal("strict-bp-reader", ["AgentIdentityBlueprint.Read.All"]).cred);
    const first = await client
      .api("/applications/microsoft.graph.agentIdentityBlueprint")
      .select("id,keyCredentials")
      .get();
    expect(first.value).toHaveLength(100);
    expect(first["@odata.nextLink"]).toBeTruthy();
    const withKeys = first.value.filter((v: { keyCredentials: unknown[] }) => v.keyCredentials.length > 0);
    expect(withKeys.length).toBeGreaterThan(0);
    for (const v of withKeys) for (const k of v.keyCredentials) expect(k.key).toBeNull();
    await expect(
      client.api("/applications/microsoft.graph.agentIdentityBlueprint").top(101).get(),
    ).rejects.toMatchObject({ statusCode: 400 });
    const prefer = await client
      .api("/applications/microsoft.graph.agentIdentityBlueprint")
      .header("Prefer", "odata.maxpagesize=500")
      .get();
    expect(prefer.value).toHaveLength(100);
  });

  it("delta: a changed object comes with its id and only what changed; a link older than 7 days gets 400 syncStateNotFound", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const client = graph(reader.cred);
    let page = await client
      .api("/applications/delta")
      .select("id,displayName,keyCredentials,passwordCredentials")
      .get();
    while (page["@odata.nextLink"]) page = await client.api(page["@odata.nextLink"]).get();
    const app = ctx.directory.createApplication(t, { displayName: "strict-delta" });
    let round = await client.api(page["@odata.deltaLink"]).get();
    while (round["@odata.nextLink"]) round = await client.api(round["@odata.nextLink"]).get();
    // A new object comes whole…
    expect(round.value.find((v: { id: string }) => v.id === app.id)).toMatchObject({
      displayName: "strict-delta",
      keyCredentials: [],
      passwordCredentials: [],
    });
    // …a changed one with its id and what changed.
    ctx.directory.addPasswordCredential(t, app.id, { endDateTime: new Date(Date.now() + DAY).toISOString() });
    const changed = await client.api(round["@odata.deltaLink"]).get();
    const mine = changed.value.find((v: { id: string }) => v.id === app.id);
    expect(Object.keys(mine).sort()).toEqual(["id", "passwordCredentials"]);
    // Seven days later the link's sync state is gone.
    await ctx.clock.advance(7 * DAY + 60_000);
    await expect(client.api(changed["@odata.deltaLink"]).get()).rejects.toMatchObject({
      statusCode: 400,
      code: "syncStateNotFound",
    });
  });

  it("replication lag (graph=stale/N): a read sees the state of N ms ago on the virtual clock; writes and tokens see the latest (entra=stale lags tokens)", async () => {
    const { ctx, urls } = sb();
    const t = ctx.directory.defaultTenantId;
    const app = ctx.directory.createApplication(t, { displayName: "strict-lag" });
    ctx.directory.addKeyCredential(t, app.id, { certificateDer: cert.der });
    const res = await fetch(`${urls.controlUrl}/faults`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ spec: "graph=stale/2000" }),
    });
    expect(res.status).toBe(200);
    const self = graph(new ClientCertificateCredential(t, app.appId, { certificate: cert.pem }, opts()));
    await self.api(`/applications/${app.id}/addKey`).post({
      keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: next.base64 },
      passwordCredential: null,
      proof: await proof(cert, app.id),
    });
    const reads = graph(reader.cred);
    const stale = await reads.api(`/applications/${app.id}`).select("keyCredentials").get();
    expect(stale.keyCredentials).toHaveLength(1);
    const listed = await reads
      .api("/applications")
      .filter(`id eq '${app.id}'`)
      .select("id,keyCredentials")
      .get();
    expect(listed.value[0].keyCredentials).toHaveLength(1);
    // The directory itself (and Entra's token endpoint) has the new key at once.
    expect(ctx.directory.get(t, app.id)!.keyCredentials).toHaveLength(2);
    await new ClientCertificateCredential(t, app.appId, { certificate: next.pem }, opts()).getToken(GRAPH);
    await ctx.clock.advance(2001);
    const fresh = await reads.api(`/applications/${app.id}`).select("keyCredentials").get();
    expect(fresh.keyCredentials).toHaveLength(2);
    // With entra=stale the token endpoint, too, knows the new key only N ms later.
    ctx.faults.set(parseFaultSpec("entra=stale/60000"));
    const app2 = ctx.directory.createApplication(t, { displayName: "strict-entra-lag" });
    ctx.directory.addKeyCredential(t, app2.id, { certificateDer: cert.der });
    await graph(new ClientCertificateCredential(t, app2.appId, { certificate: cert.pem }, opts()))
      .api(`/applications/${app2.id}/addKey`)
      .post({
        keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: next.base64 },
        passwordCredential: null,
        proof: await proof(cert, app2.id),
      });
    await expect(
      new ClientCertificateCredential(t, app2.appId, { certificate: next.pem }, opts()).getToken(GRAPH),
    ).rejects.toThrow(/AADSTS700027/);
    await ctx.clock.advance(60_001);
    await new ClientCertificateCredential(t, app2.appId, { certificate: next.pem }, opts()).getToken(GRAPH);
    const faults = (await (await fetch(`${urls.controlUrl}/faults`)).json()) as {
      hits: Record<string, number>;
    };
    expect(faults.hits.stale).toBeGreaterThanOrEqual(3);
  });

  it("replication lag: a change made outside Graph (a test's setup) shows at once, with everything before it", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const app = ctx.directory.createApplication(t, { displayName: "strict-lag-setup" });
    ctx.directory.addKeyCredential(t, app.id, { certificateDer: cert.der });
    ctx.faults.set(parseFaultSpec("graph=stale/60000"));
    const self = graph(new ClientCertificateCredential(t, app.appId, { certificate: cert.pem }, opts()));
    await self.api(`/applications/${app.id}/addKey`).post({
      keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: next.base64 },
      passwordCredential: null,
      proof: await proof(cert, app.id),
    });
    const reads = graph(reader.cred);
    expect(
      (await reads.api(`/applications/${app.id}`).select("keyCredentials").get()).keyCredentials,
    ).toHaveLength(1);
    ctx.directory.addPasswordCredential(t, app.id, { endDateTime: new Date(Date.now() + DAY).toISOString() });
    const now = await reads.api(`/applications/${app.id}`).select("keyCredentials,passwordCredentials").get();
    expect(now.keyCredentials).toHaveLength(2);
    expect(now.passwordCredentials).toHaveLength(1);
  });

  it("the stale fault is Graph's and needs its lag: graph=stale/2000 parses; others are refused", () => {
    expect(parseFaultSpec("graph=stale/2000")).toEqual([{ service: "graph", kind: "stale", param: 2000 }]);
    expect(parseFaultSpec("entra=stale/500")).toEqual([{ service: "entra", kind: "stale", param: 500 }]);
    expect(() => parseFaultSpec("keyvault=stale/2000")).toThrow(FaultSpecError);
    expect(() => parseFaultSpec("graph=stale")).toThrow(/needs the lag in ms/);
  });
});
