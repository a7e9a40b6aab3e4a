/**
 * Graph's application credential activity report, served from the sandbox's sign-in log, read
 * with the Graph SDK through the product's reader (shared/azure/signins.ts).
 */
import { ClientCertificateCredential, ClientSecretCredential } from "@azure/identity";
import { beforeAll, describe, expect, it } from "vitest";
import { graphClient } from "../../../shared/azure/graph.js";
import { isGlobalGraph, readCredentialSignIns } from "../../../shared/azure/signins.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const GRAPH = "https://graph.microsoft.com/.default";
const DAY = 86_400_000;
const sb = useSandbox();

function opts() {
  return { authorityHost: sb().urls.authorityHost, disableInstanceDiscovery: true };
}

/** A caller with the given application permissions, signing in with a client secret. */
function caller(name: string, roles: string[]) {
  const { ctx, urls } = sb();
  const t = ctx.directory.defaultTenantId;
  const app = ctx.directory.createApplication(t, { displayName: name });
  const sp = ctx.directory.findByAppId(t, app.appId, "servicePrincipal");
  for (const r of roles) ctx.directory.grantAppRole(t, sp?.id as string, r);
  const pw = ctx.directory.addPasswordCredential(t, app.id, {
    endDateTime: new Date(ctx.clock.now() + 365 * DAY).toISOString(),
  });
  const cred = new ClientSecretCredential(t, app.appId, pw.secretText, opts());
  return { app, pw, client: graphClient(urls.graphBaseUrl, cred) };
}

async function raw(path: string, token?: string) {
  const res = await fetch(`${sb().urls.baseUrl}${path}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies read field by field in assertions
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

describe("credential sign-in activity report", () => {
  let cert: TestCert;
  let unusedCert: TestCert;
  let target: ReturnType<typeof caller>;
  let certKeyId: string;
  let unusedKeyId: string;
  let firstUse: string;
  let lastUse: string;

  beforeAll(async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    cert = await makeCert({ subject: "CN=activity-used" });
    unusedCert = await makeCert({ subject: "CN=activity-unused" });
    target = caller("activity-target", []);
    certKeyId = ctx.directory.addKeyCredential(t, target.app.id, { certificateDer: cert.der }).keyId;
    unusedKeyId = ctx.directory.addKeyCredential(t, target.app.id, { certificateDer: unusedCert.der }).keyId;
    // The secret signs in now; the certificate now and again ten (virtual) days later. The times
    // expected are those the sign-in log recorded (the clock ticks between steps).
    const loggedAt = (keyId: string) =>
      ctx.signIns
        .entries()
        .filter((e) => e.keyId === keyId)
        .map((e) => e.time)
        .sort()
        .at(-1) as string;
    await new ClientSecretCredential(t, target.app.appId, target.pw.secretText, opts()).getToken(GRAPH);
    await new ClientCertificateCredential(t, target.app.appId, { certificate: cert.pem }, opts()).getToken(
      GRAPH,
    );
    firstUse = loggedAt(target.pw.keyId);
    const before = loggedAt(certKeyId);
    await ctx.clock.advance(10 * DAY);
    await new ClientCertificateCredential(t, target.app.appId, { certificate: cert.pem }, opts()).getToken(
      "https://vault.azure.net/.default",
    );
    lastUse = loggedAt(certKeyId);
    expect(Date.parse(lastUse) - Date.parse(before)).toBeGreaterThanOrEqual(10 * DAY);
  });

  it("lists the last sign-in of each credential that was used, in the documented shape", async () => {
    const reader = caller("activity-reader", ["AuditLog.Read.All"]);
    const res = (await reader.client
      .api(`/reports/appCredentialSignInActivities?$filter=appId eq '${target.app.appId}'`)
      .version("beta")
      .get()) as { value: Array<Record<string, unknown>> };
    const byKey = new Map(res.value.map((v) => [v.keyId, v]));
    expect([...byKey.keys()].sort()).toEqual([certKeyId, target.pw.keyId].sort());
    expect(byKey.get(certKeyId)).toMatchObject({
      id: Buffer.from(`${certKeyId}|application`).toString("base64"),
      appId: target.app.appId,
      appObjectId: target.app.id,
      credentialOrigin: "application",
      keyType: "certificate",
      keyUsage: "verify",
      resourceId: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
      signInActivity: { lastSignInDateTime: lastUse, lastSuccessfulSignInDateTime: lastUse },
    });
    expect(byKey.get(target.pw.keyId)).toMatchObject({
      keyType: "clientSecret",
      keyUsage: "sign",
      signInActivity: { lastSignInDateTime: firstUse },
    });
    expect(byKey.has(unusedKeyId)).toBe(false);
    const one2 = (await reader.client
      .api(`/reports/appCredentialSignInActivities?$filter=keyId eq '${target.pw.keyId}'`)
      .version("beta")
      .get()) as { value: Array<Record<string, unknown>> };
    expect(one2.value.map((v) => v.keyId)).toEqual([target.pw.keyId]);

    const one = await reader.client
      .api(`/reports/appCredentialSignInActivities/${byKey.get(certKeyId)?.id}`)
      .version("beta")
      .get();
    expect(one.keyId).toBe(certKeyId);
  });

  it("the product's reader returns the last sign-in per keyId, across pages", async () => {
    const reader = caller("activity-reader-2", ["AuditLog.Read.All"]);
    const graphBase = sb().urls.graphBaseUrl;
    const report = await readCredentialSignIns(reader.client, graphBase, { pageSize: 1 });
    expect(report.available).toBe(true);
    if (!report.available) return;
    expect(report.lastSignIn[certKeyId]).toBe(Date.parse(lastUse));
    expect(report.lastSignIn[target.pw.keyId]).toBe(Date.parse(firstUse));
    expect(report.lastSignIn[unusedKeyId]).toBeUndefined();
    // Every sign-in of the readers themselves is in it too: more than one page of $top=1.
    expect(Object.keys(report.lastSignIn).length).toBeGreaterThan(2);
  });

  it("pages with $top and @odata.nextLink", async () => {
    const reader = caller("activity-pager", ["Directory.Read.All"]);
    const token = await tokenOf(reader.pw.secretText, reader.app.appId);
    const first = await raw("/beta/reports/appCredentialSignInActivities?$top=1", token);
    expect(first.status).toBe(200);
    expect(first.body?.value).toHaveLength(1);
    expect(first.body?.["@odata.nextLink"]).toMatch(
      /\/beta\/reports\/appCredentialSignInActivities\?\$top=1&\$skiptoken=/,
    );
    const next = new URL(first.body?.["@odata.nextLink"] as string);
    const second = await raw(`${next.pathname}${next.search}`, token);
    expect(second.status).toBe(200);
    expect(second.body?.value[0].id).not.toBe(first.body?.value[0].id);
    expect((await raw("/beta/reports/appCredentialSignInActivities?$top=0", token)).status).toBe(400);
    expect(
      (await raw("/beta/reports/appCredentialSignInActivities?$filter=displayName eq 'x'", token)).status,
    ).toBe(400);
  });

  it("refuses callers without AuditLog.Read.All (403), and the reader says unavailable", async () => {
    const nobody = caller("activity-nobody", ["Application.Read.All"]);
    await expect(
      nobody.client.api("/reports/appCredentialSignInActivities").version("beta").get(),
    ).rejects.toMatchObject({ statusCode: 403, code: "Authorization_RequestDenied" });
    const report = await readCredentialSignIns(nobody.client, sb().urls.graphBaseUrl);
    expect(report).toEqual({
      available: false,
      reason: "permission",
      detail: expect.stringContaining("AuditLog.Read.All"),
    });
    const noToken = await raw("/beta/reports/appCredentialSignInActivities");
    expect(noToken.status).toBe(401);
  });

  it("exists only in beta: v1.0 answers 400, and the reader says unavailable in a national cloud", async () => {
    const reader = caller("activity-v1", ["AuditLog.Read.All"]);
    await expect(reader.client.api("/reports/appCredentialSignInActivities").get()).rejects.toMatchObject({
      statusCode: 400,
    });
    expect(isGlobalGraph("https://graph.microsoft.com")).toBe(true);
    expect(isGlobalGraph(sb().urls.graphBaseUrl)).toBe(true);
    for (const host of ["graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"]) {
      const report = await readCredentialSignIns(reader.client, `https://${host}`);
      expect(report).toMatchObject({ available: false, reason: "nationalCloud" });
    }
  });
});

async function tokenOf(secret: string, appId: string): Promise<string> {
  const { urls } = sb();
  const t = await new ClientSecretCredential(urls.tenantId, appId, secret, opts()).getToken(GRAPH);
  return t.token;
}
