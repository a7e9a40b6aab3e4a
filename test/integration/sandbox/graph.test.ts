import { randomUUID } from "node:crypto";
import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { Client, PageIterator } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import { importPKCS8, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Directory } from "../../../sandbox/graph/directory.js";
import { configureGraphThrottling, DEFAULT_GRAPH_THROTTLE_LIMITS } from "../../../sandbox/graph/index.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const GRAPH = "https://graph.microsoft.com/.default";
const sb = useSandbox();

interface Principal {
  appId: string;
  appObjectId: string;
  spId: string;
  cred: TokenCredential;
}

function opts() {
  return { authorityHost: sb().urls.authorityHost, disableInstanceDiscovery: true };
}

function principal(name: string, roles: string[]): Principal {
  const { ctx } = sb();
  const t = ctx.directory.defaultTenantId;
  const app = ctx.directory.createApplication(t, { displayName: name });
  const sp = ctx.directory.findByAppId(t, app.appId, "servicePrincipal");
  for (const r of roles) ctx.directory.grantAppRole(t, sp?.id as string, r);
  const pw = ctx.directory.addPasswordCredential(t, app.id, {
    endDateTime: new Date(Date.now() + 86400_000).toISOString(),
  });
  return {
    appId: app.appId,
    appObjectId: app.id,
    spId: sp?.id as string,
    cred: new ClientSecretCredential(t, app.appId, pw.secretText, opts()),
  };
}

function graph(cred: TokenCredential): Client {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(cred, { scopes: [GRAPH] }),
    baseUrl: sb().urls.graphBaseUrl,
    customHosts: new Set(["127.0.0.1"]),
  });
}

async function proof(
  cert: TestCert,
  objectId: string,
  o: { nbf?: number; exp?: number } = {},
): Promise<string> {
  const key = await importPKCS8(cert.keyPem, "RS256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "RS256", typ: "JWT", x5t: cert.x5t })
    .setAudience("00000002-0000-0000-c000-000000000000")
    .setIssuer(objectId)
    .setNotBefore(o.nbf ?? now)
    .setExpirationTime(o.exp ?? now + 600)
    .sign(key);
}

async function raw(path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  const res = await fetch(`${sb().urls.baseUrl}${path}`, { ...init, headers });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    // biome-ignore lint/suspicious/noExplicitAny: JSON bodies read field by field in assertions
    body: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}

describe("Microsoft Graph", () => {
  let reader: Principal;
  let operator: Principal;
  let nobody: Principal;
  let certA: TestCert;
  let certB: TestCert;
  let target: { id: string; appId: string };
  let notOwned: { id: string; appId: string };

  beforeAll(async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    [certA, certB] = await Promise.all([
      makeCert({ subject: "CN=target-a" }),
      makeCert({ subject: "CN=target-b" }),
    ]);
    reader = principal("reader", ["Application.Read.All"]);
    operator = principal("operator", ["Application.ReadWrite.OwnedBy"]);
    nobody = principal("nobody", []);
    const a = ctx.directory.createApplication(t, { displayName: "target-a" });
    ctx.directory.addKeyCredential(t, a.id, { certificateDer: certA.der });
    ctx.directory.addOwner(t, a.id, operator.spId);
    target = { id: a.id, appId: a.appId };
    const b = ctx.directory.createApplication(t, { displayName: "not-owned" });
    notOwned = { id: b.id, appId: b.appId };
    for (let i = 0; i < 250; i++) ctx.directory.createApplication(t, { displayName: `filler-${i}` });
  });

  afterEach(() => {
    configureGraphThrottling(sb().ctx, DEFAULT_GRAPH_THROTTLE_LIMITS);
  });

  it("lists applications in pages with $top and absolute https @odata.nextLink, and PageIterator walks them all", async () => {
    const { ctx, urls } = sb();
    const client = graph(reader.cred);
    const first = await client.api("/applications").select("id,appId,displayName").top(100).get();
    expect(first.value).toHaveLength(100);
    expect(Object.keys(first.value[0]).sort()).toEqual(["appId", "displayName", "id"]);
    expect(first["@odata.nextLink"]).toMatch(
      new RegExp(`^${urls.baseUrl.replace(/\./g, "\\.")}/v1\\.0/applications\\?`),
    );
    const seen: string[] = [];
    const it = new PageIterator(client, first, (app: { id: string }) => {
      seen.push(app.id);
      return true;
    });
    await it.iterate();
    const dir = ctx.directory as Directory;
    const expected = dir.tenant(ctx.directory.defaultTenantId)?.applications.filter((o) => !o.deleted).length;
    expect(seen.length).toBe(expected);
    expect(new Set(seen).size).toBe(seen.length);
    const dflt = await client.api("/applications").get();
    expect(dflt.value).toHaveLength(100);
    await expect(client.api("/applications").top(1000).get()).rejects.toMatchObject({ statusCode: 400 });
  });

  it("returns keyCredentials' key only when keyCredentials are selected; $filter on appId; GET by (appId='…')", async () => {
    const client = graph(reader.cred);
    const plain = await client.api(`/applications/${target.id}`).get();
    expect(plain.keyCredentials[0]).toMatchObject({
      key: null,
      type: "AsymmetricX509Cert",
      usage: "Verify",
      displayName: "CN=target-a",
    });
    expect(
      Buffer.from(plain.keyCredentials[0].customKeyIdentifier, "base64").toString("hex").toUpperCase(),
    ).toBe(certA.sha1Hex);
    const selected = await client.api(`/applications/${target.id}`).select("id,keyCredentials").get();
    expect(selected.keyCredentials[0].key).toBe(certA.base64);
    expect(selected.displayName).toBeUndefined();
    const filtered = await client
      .api("/applications")
      .filter(`appId eq '${target.appId}'`)
      .select("id,keyCredentials")
      .get();
    expect(filtered.value).toHaveLength(1);
    // A list never carries the key, even with $select=keyCredentials: "Returned only on $select for
    // a single object … otherwise, it is always null" (keycredential.md).
    expect(filtered.value[0].keyCredentials[0].key).toBeNull();
    const byAppId = await client.api(`/applications(appId='${target.appId}')`).get();
    expect(byAppId.id).toBe(target.id);
    const inList = await client.api("/applications").filter(`id in ('${target.id}','${notOwned.id}')`).get();
    expect(inList.value.map((v: { id: string }) => v.id).sort()).toEqual([target.id, notOwned.id].sort());
    const sp = await client.api(`/servicePrincipals(appId='${target.appId}')`).get();
    expect(sp.servicePrincipalType).toBe("Application");
    await expect(client.api(`/applications/${randomUUID()}`).get()).rejects.toMatchObject({
      statusCode: 404,
      code: "Request_ResourceNotFound",
    });
  });

  it("PATCHes keyCredentials (whole collection, 204) on an owned app with Application.ReadWrite.OwnedBy; 403 elsewhere", async () => {
    const client = graph(operator.cred);
    const current = await client.api(`/applications/${target.id}`).select("keyCredentials").get();
    const extra = await makeCert({ subject: "CN=patched" });
    const res = await client.api(`/applications/${target.id}`).patch({
      keyCredentials: [
        ...current.keyCredentials,
        { type: "AsymmetricX509Cert", usage: "Verify", key: extra.base64, displayName: "CN=patched" },
      ],
    });
    expect(res).toBeUndefined();
    const after = await client.api(`/applications/${target.id}`).select("keyCredentials").get();
    expect(after.keyCredentials).toHaveLength(2);
    // Back to the original collection (existing entries may be sent with key null, matched by keyId).
    await client.api(`/applications/${target.id}`).patch({
      keyCredentials: current.keyCredentials.map((k: Record<string, unknown>) => ({ ...k, key: null })),
    });
    const restored = await client.api(`/applications/${target.id}`).select("keyCredentials").get();
    expect(restored.keyCredentials.map((k: { keyId: string }) => k.keyId)).toEqual(
      current.keyCredentials.map((k: { keyId: string }) => k.keyId),
    );
    await expect(
      client.api(`/applications/${notOwned.id}`).patch({ keyCredentials: [] }),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: "Authorization_RequestDenied",
    });
    await expect(
      graph(reader.cred).api(`/applications/${target.id}`).patch({ displayName: "x" }),
    ).rejects.toMatchObject({
      statusCode: 403,
    });
    await expect(graph(nobody.cred).api("/applications").get()).rejects.toMatchObject({
      statusCode: 403,
      code: "Authorization_RequestDenied",
    });
  });

  it("lets an application roll its own key with addKey/removeKey and real proofs, with no permission", async () => {
    const { urls, ctx } = sb();
    const self = new ClientCertificateCredential(
      urls.tenantId,
      target.appId,
      { certificate: certA.pem },
      opts(),
    );
    const client = graph(self);
    const before = await graph(reader.cred).api(`/applications/${target.id}`).get();
    const oldKeyId = before.keyCredentials[0].keyId as string;
    const added = await client.api(`/applications/${target.id}/addKey`).post({
      keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: certB.base64 },
      passwordCredential: null,
      proof: await proof(certA, target.id),
    });
    expect(added).toMatchObject({
      type: "AsymmetricX509Cert",
      usage: "Verify",
      displayName: "CN=target-b",
      key: null,
    });
    expect(added["@odata.context"]).toMatch(/\$metadata#microsoft\.graph\.keyCredential$/);
    // The new certificate works at the token endpoint at once.
    const withB = new ClientCertificateCredential(
      urls.tenantId,
      target.appId,
      { certificate: certB.pem },
      opts(),
    );
    await withB.getToken(GRAPH);
    await graph(withB)
      .api(`/applications/${target.id}/removeKey`)
      .post({ keyId: oldKeyId, proof: await proof(certB, target.id) });
    const after = await graph(reader.cred).api(`/applications/${target.id}`).get();
    expect(after.keyCredentials.map((k: { keyId: string }) => k.keyId)).toEqual([added.keyId]);
    // The removed certificate no longer signs assertions or proofs.
    const withA = new ClientCertificateCredential(
      urls.tenantId,
      target.appId,
      { certificate: certA.pem },
      opts(),
    );
    await expect(withA.getToken(GRAPH)).rejects.toThrow(/AADSTS700027/);
    await expect(
      graph(withB)
        .api(`/applications/${target.id}/addKey`)
        .post({
          keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: certA.base64 },
          passwordCredential: null,
          proof: await proof(certA, target.id),
        }),
    ).rejects.toMatchObject({ statusCode: 401, code: "Authentication_MissingOrMalformed" });
    expect(
      ctx.signIns.entries().some((e) => e.clientId === target.appId && e.credential === certB.sha1Hex),
    ).toBe(true);
  });

  it("rejects expired and over-long proofs, wrong issuers, and addKey on an object with no valid certificate", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const c = await makeCert({ subject: "CN=proofs" });
    const app = ctx.directory.createApplication(t, { displayName: "proofs" });
    ctx.directory.addKeyCredential(t, app.id, { certificateDer: c.der });
    ctx.directory.addOwner(t, app.id, operator.spId);
    const client = graph(operator.cred);
    const body = async (p: string) => ({
      keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: certB.base64 },
      passwordCredential: null,
      proof: p,
    });
    const now = Math.floor(Date.now() / 1000);
    for (const p of [
      await proof(c, app.id, { nbf: now - 3600, exp: now - 3000 }),
      await proof(c, app.id, { nbf: now, exp: now + 3600 }),
      await proof(c, app.appId),
      await proof(certB, app.id),
    ]) {
      await expect(client.api(`/applications/${app.id}/addKey`).post(await body(p))).rejects.toMatchObject({
        statusCode: 401,
        code: "Authentication_MissingOrMalformed",
      });
    }
    const bare = ctx.directory.createApplication(t, { displayName: "no-cert" });
    ctx.directory.addOwner(t, bare.id, operator.spId);
    await expect(
      client.api(`/applications/${bare.id}/addKey`).post(await body(await proof(c, bare.id))),
    ).rejects.toMatchObject({ statusCode: 401 });
    // ...which PATCH can bootstrap instead.
    await client
      .api(`/applications/${bare.id}`)
      .patch({ keyCredentials: [{ type: "AsymmetricX509Cert", usage: "Verify", key: c.base64 }] });
    const ok = await client.api(`/applications/${bare.id}/addKey`).post(await body(await proof(c, bare.id)));
    expect(ok.keyId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("adds and removes passwords on an owned app; the new secret signs in", async () => {
    const { urls } = sb();
    const client = graph(operator.cred);
    const pw = await client
      .api(`/applications/${target.id}/addPassword`)
      .post({ passwordCredential: { displayName: "rotated" } });
    expect(pw).toMatchObject({
      displayName: "rotated",
      hint: pw.secretText.slice(0, 3),
      customKeyIdentifier: null,
    });
    const years = (Date.parse(pw.endDateTime) - Date.parse(pw.startDateTime)) / (365 * 86400_000);
    expect(Math.round(years)).toBe(2);
    await new ClientSecretCredential(urls.tenantId, target.appId, pw.secretText, opts()).getToken(GRAPH);
    const listed = await client.api(`/applications/${target.id}`).get();
    expect(
      listed.passwordCredentials.find((p: { keyId: string }) => p.keyId === pw.keyId).secretText,
    ).toBeNull();
    await client.api(`/applications/${target.id}/removePassword`).post({ keyId: pw.keyId });
    await expect(
      new ClientSecretCredential(urls.tenantId, target.appId, pw.secretText, opts()).getToken(GRAPH),
    ).rejects.toThrow(/AADSTS7000215/);
    await expect(
      client.api(`/applications/${notOwned.id}/addPassword`).post({ passwordCredential: {} }),
    ).rejects.toMatchObject({ statusCode: 403 });
  });

  it("lists owners", async () => {
    const owners = await graph(reader.cred).api(`/applications/${target.id}/owners`).get();
    expect(owners.value).toEqual([
      expect.objectContaining({
        "@odata.type": "#microsoft.graph.servicePrincipal",
        id: operator.spId,
        appId: operator.appId,
      }),
    ]);
  });

  it("serves agent identity blueprints and agent identities on type-cast paths", async () => {
    const { ctx, urls } = sb();
    const t = ctx.directory.defaultTenantId;
    const c = await makeCert({ subject: "CN=blueprint" });
    const bp = ctx.directory.createApplication(t, { displayName: "bp", kind: "agentIdentityBlueprint" });
    ctx.directory.addKeyCredential(t, bp.id, { certificateDer: c.der });
    const agent = ctx.directory.createServicePrincipal(t, {
      appId: randomUUID(),
      kind: "agentIdentity",
      blueprintAppId: bp.appId,
      displayName: "agent-1",
    });
    const client = graph(reader.cred);
    const bps = await client.api("/applications/microsoft.graph.agentIdentityBlueprint").get();
    expect(bps.value.map((v: { id: string }) => v.id)).toEqual([bp.id]);
    expect(bps.value[0]["@odata.type"]).toBe("#microsoft.graph.agentIdentityBlueprint");
    const inAll = await client.api("/applications").filter(`id eq '${bp.id}'`).get();
    expect(inAll.value[0]["@odata.type"]).toBe("#microsoft.graph.agentIdentityBlueprint");
    const agents = await client.api("/servicePrincipals/microsoft.graph.agentIdentity").version("beta").get();
    expect(agents.value).toEqual([
      expect.objectContaining({
        id: agent.id,
        agentIdentityBlueprintId: bp.appId,
        servicePrincipalType: "ServiceIdentity",
      }),
    ]);
    await expect(
      client.api(`/applications/${target.id}/microsoft.graph.agentIdentityBlueprint`).get(),
    ).rejects.toMatchObject({
      statusCode: 404,
    });
    // The blueprint rolls its own key on the type-cast path, with AgentIdentityBlueprint.AddRemoveCreds.All
    // granted to its principal (no permission-free self-roll is documented for blueprints).
    const bpPrincipal = ctx.directory.findByAppId(t, bp.appId, "servicePrincipal")!;
    ctx.directory.grantAppRole(t, bpPrincipal.id, "AgentIdentityBlueprint.AddRemoveCreds.All");
    const self = new ClientCertificateCredential(urls.tenantId, bp.appId, { certificate: c.pem }, opts());
    const added = await graph(self)
      .api(`/applications/${bp.id}/microsoft.graph.agentIdentityBlueprint/addKey`)
      .version("beta")
      .post({
        keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: certB.base64 },
        passwordCredential: null,
        proof: await proof(c, bp.id),
      });
    expect(added.keyId).toBeTruthy();
    await expect(
      graph(operator.cred).api(`/servicePrincipals/${agent.id}`).patch({ keyCredentials: [] }),
    ).rejects.toMatchObject({ statusCode: 403 });
  });

  it("answers 401 for missing, forged and wrong-audience tokens; 400 for malformed JSON; 415 for a wrong content type", async () => {
    const noToken = await raw(`/v1.0/applications/${target.id}`);
    expect(noToken.status).toBe(401);
    expect(noToken.body?.error.code).toBe("InvalidAuthenticationToken");
    expect(noToken.body?.error.innerError["request-id"]).toBeTruthy();
    const forgedKey = await importPKCS8(certA.keyPem, "RS256");
    const forged = await new SignJWT({
      roles: ["Application.ReadWrite.All"],
      tid: sb().urls.tenantId,
      oid: operator.spId,
      appid: operator.appId,
    })
      .setProtectedHeader({ alg: "RS256" })
      .setAudience("https://graph.microsoft.com")
      .setExpirationTime("1h")
      .sign(forgedKey);
    expect((await raw(`/v1.0/applications/${target.id}`, { token: forged })).status).toBe(401);
    const vaultToken = (await operator.cred.getToken("https://vault.azure.net/.default"))?.token;
    const wrongAud = await raw(`/v1.0/applications/${target.id}`, { token: vaultToken });
    expect(wrongAud.status).toBe(401);
    expect(wrongAud.body?.error.message).toMatch(/audience/i);
    const token = (await operator.cred.getToken(GRAPH))?.token;
    const bad = await raw(`/v1.0/applications/${target.id}`, {
      method: "PATCH",
      token,
      headers: { "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(bad.body?.error.code).toBe("BadRequest");
    const wrongType = await raw(`/v1.0/applications/${target.id}`, {
      method: "PATCH",
      token,
      headers: { "Content-Type": "text/plain" },
      body: "{}",
    });
    expect(wrongType.status).toBe(415);
    const badSelect = await raw(`/v1.0/applications?$select=nope`, { token });
    expect(badSelect.status).toBe(400);
    expect(badSelect.body?.error.code).toBe("Request_BadRequest");
  });

  it("returns only changed and deleted objects from a later /applications/delta call", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const client = graph(reader.cred);
    let page = await client
      .api("/applications/delta")
      .select("id,displayName")
      .header("Prefer", "odata.maxpagesize=200")
      .get();
    let count = 0;
    while (page["@odata.nextLink"]) {
      count += page.value.length;
      page = await client.api(page["@odata.nextLink"]).get();
    }
    count += page.value.length;
    expect(count).toBe(
      ctx.directory.count(t) - (ctx.directory as Directory).tenant(t)!.servicePrincipals.length,
    );
    const deltaLink = page["@odata.deltaLink"] as string;
    expect(deltaLink).toMatch(/\/v1\.0\/applications\/delta\?\$deltatoken=/);
    const empty = await client.api(deltaLink).get();
    expect(empty.value).toEqual([]);
    const changed = ctx.directory.createApplication(t, { displayName: "changed-later" });
    ctx.directory.addPasswordCredential(t, notOwned.id, {
      endDateTime: new Date(Date.now() + 86400_000).toISOString(),
    });
    (ctx.directory as Directory).delete(t, changed.id);
    const again = await client.api(empty["@odata.deltaLink"]).get();
    const byId = new Map(again.value.map((v: { id: string }) => [v.id, v]));
    expect(byId.size).toBe(2);
    // Only what changed: a new secret is not a displayName change (delta-query-overview.md).
    expect(byId.get(notOwned.id)).toEqual({ id: notOwned.id });
    expect(byId.get(changed.id)).toEqual({ id: changed.id, "@removed": { reason: "changed" } });
  });

  it("runs $batch with dependsOn: inner statuses, 424 for dependents of a failure, and inner 429s", async () => {
    const client = graph(reader.cred);
    const res = await client.api("/$batch").post({
      requests: [
        { id: "1", method: "GET", url: `/applications/${target.id}?$select=id` },
        { id: "2", method: "GET", url: `/applications/${randomUUID()}` },
        { id: "3", method: "GET", url: `/applications/${target.id}`, dependsOn: ["2"] },
        {
          id: "4",
          method: "GET",
          url: `/applications(appId='${target.appId}')?$select=appId`,
          dependsOn: ["1"],
        },
      ],
    });
    const byId = new Map(res.responses.map((r: { id: string }) => [r.id, r]));
    expect(byId.get("1")).toMatchObject({ status: 200, body: { id: target.id } });
    expect(byId.get("2")).toMatchObject({
      status: 404,
      body: { error: { code: "Request_ResourceNotFound" } },
    });
    expect(byId.get("3")).toMatchObject({ status: 424 });
    expect(byId.get("4")).toMatchObject({ status: 200, body: { appId: target.appId } });
    const tooMany = Array.from({ length: 21 }, (_, i) => ({
      id: String(i),
      method: "GET",
      url: "/applications",
    }));
    await expect(client.api("/$batch").post({ requests: tooMany })).rejects.toMatchObject({
      statusCode: 400,
    });

    configureGraphThrottling(sb().ctx, { resourceUnitsPer10s: 3 });
    const throttled = await client.api("/$batch").post({
      requests: Array.from({ length: 6 }, (_, i) => ({
        id: String(i),
        method: "GET",
        url: `/applications/${target.id}`,
      })),
    });
    const statuses = throttled.responses.map((r: { status: number }) => r.status);
    expect(statuses.filter((s: number) => s === 200)).toHaveLength(3);
    const limited = throttled.responses.find((r: { status: number }) => r.status === 429);
    expect(Number(limited.headers["Retry-After"])).toBeGreaterThan(0);
  });

  it("in a $batch: a single-object $select=keyCredentials read carries `key`, a list does not; the counter counts only inner writes", async () => {
    const { requestCounts } = sb();
    requestCounts.reset();
    const reads = await graph(reader.cred)
      .api("/$batch")
      .post({
        requests: [
          { id: "one", method: "GET", url: `/applications/${target.id}?$select=id,keyCredentials` },
          { id: "list", method: "GET", url: `/applications?$select=id,keyCredentials&$top=5` },
        ],
      });
    const byId = new Map(reads.responses.map((r: { id: string }) => [r.id, r]));
    // keycredential.md: `key` is "returned only on $select for a single object"; each inner
    // request of a batch is a request of its own (json-batching.md).
    // The same keys as the read outside a batch, each with its certificate.
    const alone = await graph(reader.cred)
      .api(`/applications/${target.id}`)
      .select("id,keyCredentials")
      .get();
    const inBatch = (byId.get("one") as { body: { keyCredentials: Array<{ key: unknown }> } }).body;
    expect(inBatch.keyCredentials.length).toBeGreaterThan(0);
    expect(inBatch.keyCredentials.every((k) => typeof k.key === "string" && k.key.length > 0)).toBe(true);
    expect(inBatch.keyCredentials).toEqual(alone.keyCredentials);
    const listed = (
      byId.get("list") as { body: { value: Array<{ keyCredentials: Array<{ key: unknown }> }> } }
    ).body.value;
    expect(listed.flatMap((o) => o.keyCredentials).every((k) => k.key === null)).toBe(true);
    expect(requestCounts.get().graph).toBe(2);
    expect(requestCounts.get()["graph:write"] ?? 0).toBe(0);
    const write = await graph(operator.cred)
      .api("/$batch")
      .post({
        requests: [
          { id: "read", method: "GET", url: `/applications/${target.id}?$select=id` },
          {
            id: "rename",
            method: "PATCH",
            url: `/applications/${target.id}`,
            headers: { "Content-Type": "application/json" },
            body: { displayName: "target-a" },
          },
        ],
      });
    expect(write.responses.map((r: { status: number }) => r.status).sort()).toEqual([200, 204]);
    expect(requestCounts.get().graph).toBe(3);
    expect(requestCounts.get()["graph:write"]).toBe(1);
  });

  it("throttles with 429, Retry-After and x-ms-throttle-* headers; the client's RetryHandler retries", async () => {
    configureGraphThrottling(sb().ctx, { resourceUnitsPer10s: 10 });
    const token = (await reader.cred.getToken(GRAPH))?.token;
    const results = await Promise.all(
      Array.from({ length: 12 }, () => raw(`/v1.0/applications/${target.id}`, { token })),
    );
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    const h = limited[0]!.headers;
    expect(Number(h.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(h.get("x-ms-throttle-scope")).toMatch(
      new RegExp(`^Tenant_Application/ReadWrite/${reader.appId}/`),
    );
    expect(h.get("x-ms-throttle-information")).toBe("ResourceUnitLimitExceeded");
    expect(limited[0]!.body?.error.code).toBe("TooManyRequests");
    // The Graph client's RetryHandler waits Retry-After and gets through.
    const client = graph(reader.cred);
    const started = Date.now();
    const got = await Promise.all(
      Array.from({ length: 3 }, () => client.api(`/applications/${target.id}`).select("id").get()),
    );
    expect(got.every((g) => g.id === target.id)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("sees only the token's tenant", async () => {
    const { ctx } = sb();
    const second = randomUUID();
    ctx.directory.addTenant(second);
    const app = ctx.directory.createApplication(second, { displayName: "fabrikam" });
    const caller = ctx.directory.createApplication(second, { displayName: "fabrikam-reader" });
    const sp = ctx.directory.findByAppId(second, caller.appId, "servicePrincipal");
    ctx.directory.grantAppRole(second, sp?.id as string, "Application.Read.All");
    const pw = ctx.directory.addPasswordCredential(second, caller.id, {
      endDateTime: new Date(Date.now() + 86400_000).toISOString(),
    });
    const client = graph(new ClientSecretCredential(second, caller.appId, pw.secretText, opts()));
    const list = await client.api("/applications").get();
    expect(list.value.map((v: { id: string }) => v.id).sort()).toEqual([app.id, caller.id].sort());
    await expect(client.api(`/applications/${target.id}`).get()).rejects.toMatchObject({ statusCode: 404 });
  });
});
