/**
 * App management policies in the sandbox's Graph, read with the Graph SDK (the product's readers)
 * and enforced on addPassword, addKey and PATCH of keyCredentials; and app role assignments read
 * into the permissions a service principal holds.
 */
import { ClientCertificateCredential, ClientSecretCredential } from "@azure/identity";
import { importPKCS8, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { addAppManagementPolicy, setDefaultAppManagementPolicy } from "../../../sandbox/graph/index.js";
import { graphClient } from "../../../shared/azure/graph.js";
import { isoDurationMs, readAppManagementPolicies } from "../../../shared/azure/policies.js";
import { readPrivileges } from "../../../shared/azure/privileges.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const DAY = 86_400_000;
const sb = useSandbox();

function principal(name: string, roles: string[]) {
  const { ctx, urls } = sb();
  const t = ctx.directory.defaultTenantId;
  const app = ctx.directory.createApplication(t, { displayName: name });
  const sp = ctx.directory.findByAppId(t, app.appId, "servicePrincipal");
  for (const r of roles) ctx.directory.grantAppRole(t, sp?.id as string, r);
  const pw = ctx.directory.addPasswordCredential(t, app.id, {
    endDateTime: new Date(ctx.clock.now() + 30 * DAY).toISOString(),
  });
  const cred = new ClientSecretCredential(t, app.appId, pw.secretText, {
    authorityHost: urls.authorityHost,
    disableInstanceDiscovery: true,
  });
  return { app, sp: sp!, client: graphClient(urls.graphBaseUrl, cred) };
}

async function proof(cert: TestCert, objectId: string): Promise<string> {
  const key = await importPKCS8(cert.keyPem, "RS256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "RS256", typ: "JWT", x5t: cert.x5t })
    .setAudience("00000002-0000-0000-c000-000000000000")
    .setIssuer(objectId)
    .setNotBefore(now)
    .setExpirationTime(now + 600)
    .sign(key);
}

describe("app management policies", () => {
  it("are read with Policy.Read.All (403 without), the app's own policy replacing the default", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const target = ctx.directory.createApplication(t, { displayName: "policy-target" });
    setDefaultAppManagementPolicy(ctx, t, {
      applicationRestrictions: {
        keyCredentials: [{ restrictionType: "asymmetricKeyLifetime", maxLifetime: "P90D" }],
        passwordCredentials: [
          { restrictionType: "passwordLifetime", maxLifetime: "P30D" },
          { restrictionType: "passwordAddition", state: "disabled" },
        ],
      },
    });
    const own = addAppManagementPolicy(ctx, t, {
      displayName: "no secrets",
      restrictions: { passwordCredentials: [{ restrictionType: "passwordAddition" }] },
      appliesTo: [target.id],
    });

    const reader = principal("policy-reader", ["Policy.Read.All", "Application.Read.All"]);
    const def = await reader.client.api("/policies/defaultAppManagementPolicy").get();
    expect(def).toMatchObject({
      id: "00000000-0000-0000-0000-000000000000",
      isEnabled: true,
      applicationRestrictions: {
        keyCredentials: [{ restrictionType: "asymmetricKeyLifetime", maxLifetime: "P90D", state: "enabled" }],
      },
    });
    const applies = await reader.client.api(`/policies/appManagementPolicies/${own}/appliesTo`).get();
    expect(applies.value).toEqual([
      expect.objectContaining({ id: target.id, "@odata.type": "#microsoft.graph.application" }),
    ]);
    expect(await readAppManagementPolicies(reader.client)).toEqual({
      available: true,
      applications: { keyLifetimeMs: 90 * DAY, passwordLifetimeMs: 30 * DAY },
      servicePrincipals: {},
      byObjectId: { [target.id]: { passwordAddition: true } },
    });

    const nobody = principal("policy-nobody", ["Application.Read.All"]);
    await expect(nobody.client.api("/policies/appManagementPolicies").get()).rejects.toMatchObject({
      statusCode: 403,
      code: "Authorization_RequestDenied",
    });
    expect(await readAppManagementPolicies(nobody.client)).toEqual({
      available: false,
      detail: expect.stringContaining("Policy.Read.All"),
    });
    expect(isoDurationMs("P1Y2M3DT4H")).toBe(365 * DAY + 60 * DAY + 3 * DAY + 4 * 3_600_000);
    expect(isoDurationMs("90 days")).toBeUndefined();
  });

  it("are enforced on addPassword, addKey and PATCH as Graph documents", async () => {
    const { ctx, urls } = sb();
    const t = ctx.directory.defaultTenantId;
    const writer = principal("policy-writer", ["Application.ReadWrite.OwnedBy"]);
    const app = ctx.directory.createApplication(t, { displayName: "policy-enforced" });
    ctx.directory.addOwner(t, app.id, writer.sp.id);
    setDefaultAppManagementPolicy(ctx, t, {
      applicationRestrictions: {
        keyCredentials: [{ restrictionType: "asymmetricKeyLifetime", maxLifetime: "P90D" }],
        passwordCredentials: [{ restrictionType: "passwordLifetime", maxLifetime: "P30D" }],
      },
    });
    // A secret for 20 days is allowed; the default two years is not.
    await writer.client.api(`/applications/${app.id}/addPassword`).post({
      passwordCredential: { endDateTime: new Date(ctx.clock.now() + 20 * DAY).toISOString() },
    });
    await expect(
      writer.client.api(`/applications/${app.id}/addPassword`).post({ passwordCredential: {} }),
    ).rejects.toMatchObject({ statusCode: 400, code: "CredentialInvalidLifetimeAsPerAppPolicy" });
    // PATCH with a one-year certificate: refused; with an 80-day one: taken.
    const long = await makeCert({ subject: "CN=policy-long" });
    const short = await makeCert({ subject: "CN=policy-short", notAfter: new Date(Date.now() + 80 * DAY) });
    await expect(
      writer.client
        .api(`/applications/${app.id}`)
        .patch({ keyCredentials: [{ type: "AsymmetricX509Cert", usage: "Verify", key: long.base64 }] }),
    ).rejects.toMatchObject({ statusCode: 400, code: "CredentialInvalidLifetimeAsPerAppPolicy" });
    await writer.client
      .api(`/applications/${app.id}`)
      .patch({ keyCredentials: [{ type: "AsymmetricX509Cert", usage: "Verify", key: short.base64 }] });
    // addKey as the application itself, proven by the short certificate: the long one is refused.
    const self = graphClient(
      urls.graphBaseUrl,
      new ClientCertificateCredential(
        t,
        app.appId,
        { certificate: short.pem },
        {
          authorityHost: urls.authorityHost,
          disableInstanceDiscovery: true,
        },
      ),
    );
    await expect(
      self.api(`/applications/${app.id}/addKey`).post({
        keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: long.base64 },
        passwordCredential: null,
        proof: await proof(short, app.id),
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: "CredentialInvalidLifetimeAsPerAppPolicy" });
    // A policy of its own blocking secrets replaces the default for this object.
    addAppManagementPolicy(ctx, t, {
      displayName: "no secrets here",
      restrictions: { passwordCredentials: [{ restrictionType: "passwordAddition" }] },
      appliesTo: [app.id],
    });
    await expect(
      writer.client.api(`/applications/${app.id}/addPassword`).post({
        passwordCredential: { endDateTime: new Date(ctx.clock.now() + 5 * DAY).toISOString() },
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: "CredentialTypeNotAllowedAsPerAppPolicy" });
    setDefaultAppManagementPolicy(ctx, t, {});
  });
});

describe("privileges", () => {
  it("reads who holds the high-privilege application permissions, from Microsoft Graph's side", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const powerful = ctx.directory.createApplication(t, { displayName: "powerful" });
    const sp = ctx.directory.findByAppId(t, powerful.appId, "servicePrincipal")!;
    ctx.directory.grantAppRole(t, sp.id, "Application.ReadWrite.All");
    ctx.directory.grantAppRole(t, sp.id, "RoleManagement.ReadWrite.Directory");
    ctx.directory.grantAppRole(t, sp.id, "User.Read.All");
    const reader = principal("privilege-reader", ["Application.Read.All"]);
    const names = [
      "Application.ReadWrite.All",
      "RoleManagement.ReadWrite.Directory",
      "Directory.ReadWrite.All",
    ];
    const facts = await readPrivileges(reader.client, names);
    // Every principal holding one of the names, read from Microsoft Graph's side in one pass.
    expect(facts.available && facts.rolesByAppId[powerful.appId]).toEqual([
      "Application.ReadWrite.All",
      "RoleManagement.ReadWrite.Directory",
    ]);
    expect(facts.available && facts.rolesByAppId[reader.app.appId]).toBeUndefined();
    // An agent identity's permissions count for its blueprint, which holds the credentials.
    const bp = ctx.directory.createApplication(t, { displayName: "bp", kind: "agentIdentityBlueprint" });
    const agent = ctx.directory.createServicePrincipal(t, {
      appId: "f9000000-0000-4000-8000-000000000001",
      id: "f9000000-0000-4000-8000-000000000001",
      displayName: "agent",
      kind: "agentIdentity",
      blueprintAppId: bp.appId,
    });
    ctx.directory.grantAppRole(t, agent.id, "Directory.ReadWrite.All");
    const again = await readPrivileges(reader.client, names);
    expect(again.available && again.rolesByAppId[bp.appId]).toEqual(["Directory.ReadWrite.All"]);
    const nobody = principal("privilege-nobody", []);
    expect(await readPrivileges(nobody.client, names)).toMatchObject({
      available: false,
    });
  });
});
