import { ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { Client, GraphError, PageIterator } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import { graphResourceId } from "../../../sandbox/graph/appRoleAssignments.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox();

interface Principal {
  spId: string;
  cred: TokenCredential;
}

function principal(name: string, roles: string[]): Principal {
  const { ctx, urls } = sb();
  const t = ctx.directory.defaultTenantId;
  const app = ctx.directory.createApplication(t, { displayName: name });
  const sp = ctx.directory.findByAppId(t, app.appId, "servicePrincipal");
  for (const r of roles) ctx.directory.grantAppRole(t, sp?.id as string, r);
  const pw = ctx.directory.addPasswordCredential(t, app.id, {
    endDateTime: new Date(Date.now() + 86400_000).toISOString(),
  });
  return {
    spId: sp?.id as string,
    cred: new ClientSecretCredential(t, app.appId, pw.secretText, {
      authorityHost: urls.authorityHost,
      disableInstanceDiscovery: true,
    }),
  };
}

function graph(cred: TokenCredential): Client {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(cred, {
      scopes: ["https://graph.microsoft.com/.default"],
    }),
    baseUrl: sb().urls.graphBaseUrl,
    customHosts: new Set(["127.0.0.1"]),
  });
}

describe("Microsoft Graph: servicePrincipals/{id}/appRoleAssignments", () => {
  let reader: Principal;
  let nobody: Principal;
  let granted: Principal;

  beforeAll(() => {
    reader = principal("reader", ["Application.Read.All"]);
    nobody = principal("nobody", []);
    granted = principal("granted", [
      "Application.Read.All",
      "Application.ReadWrite.OwnedBy",
      "Directory.Read.All",
    ]);
  });

  it("lists the grants in Graph's documented shape, with Microsoft Graph's app role ids", async () => {
    const { ctx } = sb();
    const res = await graph(reader.cred).api(`/servicePrincipals/${granted.spId}/appRoleAssignments`).get();
    expect(res["@odata.context"]).toMatch(
      new RegExp(`/v1\\.0/\\$metadata#servicePrincipals\\('${granted.spId}'\\)/appRoleAssignments$`),
    );
    expect(res["@odata.nextLink"]).toBeUndefined();
    expect(res.value.map((a: { appRoleId: string }) => a.appRoleId)).toEqual([
      "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
      "18a4783c-866b-4cc7-a460-3d5e5662c884",
      "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    ]);
    const first = res.value[0];
    expect(Object.keys(first).sort()).toEqual(
      [
        "appRoleId",
        "createdDateTime",
        "deletedDateTime",
        "id",
        "principalDisplayName",
        "principalId",
        "principalType",
        "resourceDisplayName",
        "resourceId",
      ].sort(),
    );
    expect(first).toMatchObject({
      deletedDateTime: null,
      principalDisplayName: "granted",
      principalId: granted.spId,
      principalType: "ServicePrincipal",
      resourceDisplayName: "Microsoft Graph",
      resourceId: graphResourceId(ctx.directory.defaultTenantId),
    });
    expect(first.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(res.value.map((a: { id: string }) => a.id)).size).toBe(3);
  });

  it("pages with $top and an absolute nextLink that PageIterator follows; $select narrows", async () => {
    const client = graph(reader.cred);
    const first = await client
      .api(`/servicePrincipals/${granted.spId}/appRoleAssignments`)
      .select("appRoleId")
      .top(2)
      .get();
    expect(first.value).toEqual([
      { appRoleId: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30" },
      { appRoleId: "18a4783c-866b-4cc7-a460-3d5e5662c884" },
    ]);
    expect(first["@odata.nextLink"]).toMatch(/^https:\/\/.*\/v1\.0\/servicePrincipals\/.*\$skiptoken=/);
    const seen: string[] = [];
    await new PageIterator(client, first, (a: { appRoleId: string }) => {
      seen.push(a.appRoleId);
      return true;
    }).iterate();
    expect(seen).toEqual([
      "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
      "18a4783c-866b-4cc7-a460-3d5e5662c884",
      "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    ]);
  });

  it("appRoleAssignedTo (Microsoft Graph's side): $select narrows, an unknown property is refused as Graph refuses it", async () => {
    const client = graph(reader.cred);
    const path = "/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')/appRoleAssignedTo";
    const narrowed = await client.api(path).select("principalId,appRoleId").get();
    expect(narrowed.value.length).toBeGreaterThan(0);
    for (const a of narrowed.value) expect(Object.keys(a).sort()).toEqual(["appRoleId", "principalId"]);
    const err = await client
      .api(path)
      .select("principalId,secretText")
      .get()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphError);
    expect((err as GraphError).statusCode).toBe(400);
    expect((err as GraphError).code).toBe("Request_BadRequest");
    expect((err as GraphError).message).toContain("'secretText'");
  });

  it("lists nothing for a principal with no grants", async () => {
    const res = await graph(reader.cred).api(`/servicePrincipals/${nobody.spId}/appRoleAssignments`).get();
    expect(res.value).toEqual([]);
  });

  it("refuses a caller without Application.Read.All (or higher), even for its own grants", async () => {
    for (const id of [nobody.spId, granted.spId]) {
      const err = await graph(nobody.cred)
        .api(`/servicePrincipals/${id}/appRoleAssignments`)
        .get()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GraphError);
      expect((err as GraphError).statusCode).toBe(403);
      expect((err as GraphError).code).toBe("Authorization_RequestDenied");
    }
  });

  it("answers 404 for an unknown principal and 400 on an application", async () => {
    const missing = await graph(reader.cred)
      .api("/servicePrincipals/00000000-0000-4000-8000-000000000001/appRoleAssignments")
      .get()
      .catch((e: unknown) => e as GraphError);
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe("Request_ResourceNotFound");
    const { ctx } = sb();
    const app = ctx.directory.createApplication(ctx.directory.defaultTenantId, { displayName: "app" });
    const onApp = await graph(reader.cred)
      .api(`/applications/${app.id}/appRoleAssignments`)
      .get()
      .catch((e: unknown) => e as GraphError);
    expect(onApp.statusCode).toBe(400);
  });
});
