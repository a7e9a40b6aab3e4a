/**
 * The agent identity exchange: the blueprint signs in with `fmi_path` = the agent identity and
 * gets an exchange token, which the agent identity presents as its client assertion.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { EntraAgentId, type EntraAgentIdOptions } from "../../../shared/identity/index.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { addCert, claims, createVaultCertificate, makeCert, signInsFor, vaultCredential } from "./helpers.js";

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

function blueprintWithAgent(name: string) {
  const h = sb();
  const t = h.ctx.directory.defaultTenantId;
  const blueprint = h.ctx.directory.createApplication(t, {
    displayName: name,
    kind: "agentIdentityBlueprint",
  });
  const agentId = randomUUID();
  h.ctx.directory.createServicePrincipal(t, {
    appId: agentId,
    kind: "agentIdentity",
    blueprintAppId: blueprint.appId,
    displayName: `${name}-agent`,
  });
  h.ctx.directory.grantAppRole(t, agentId, "Application.Read.All");
  return { h, blueprint, agentId };
}

describe("agent identity exchange", () => {
  it("blueprint certificate → exchange token → agent identity token; both legs cached", async () => {
    const { h, blueprint, agentId } = blueprintWithAgent("bp-cert");
    const cert = await makeCert({ subject: "CN=bp-cert" });
    addCert(h, blueprint.id, cert.der);
    const agent = make({
      tenantId: h.urls.tenantId,
      certificate: cert.pem,
      agentIdentity: { blueprintClientId: blueprint.appId, agentClientId: agentId },
      authorityHost: h.urls.authorityHost,
      now: () => h.ctx.clock.now(),
    });
    const token = await agent.getToken();
    expect(claims(token)).toMatchObject({
      aud: "https://graph.microsoft.com",
      appid: agentId,
      oid: agentId,
      roles: ["Application.Read.All"],
    });
    expect(signInsFor(h, blueprint.appId)).toEqual([
      expect.objectContaining({
        success: true,
        credentialType: "certificate",
        credential: cert.sha1Hex,
        resource: "api://AzureADTokenExchange",
      }),
    ]);
    expect(signInsFor(h, agentId)).toEqual([
      expect.objectContaining({
        success: true,
        credentialType: "agentExchange",
        credential: blueprint.appId,
      }),
    ]);
    // Cached; a second resource reuses the exchange token.
    expect(await agent.getToken()).toBe(token);
    const vault = await agent.getToken("https://vault.azure.net/.default");
    expect(claims(vault)).toMatchObject({ aud: "https://vault.azure.net", appid: agentId });
    expect(signInsFor(h, blueprint.appId)).toHaveLength(1);
    expect(signInsFor(h, agentId)).toHaveLength(2);
    // Both legs are renewed once the tokens are due.
    await h.ctx.clock.advance(56 * MIN);
    expect(await agent.getToken()).not.toBe(token);
    expect(signInsFor(h, blueprint.appId)).toHaveLength(2);
    expect(signInsFor(h, agentId)).toHaveLength(3);
  });

  it("blueprint certificate in Key Vault: Key Vault signs the blueprint's assertion", async () => {
    const { h, blueprint, agentId } = blueprintWithAgent("bp-kv");
    const v = await createVaultCertificate(h, "bp-kv");
    addCert(h, blueprint.id, v.cerDer);
    const agent = make({
      tenantId: h.urls.tenantId,
      keyVaultCertificate: { vaultUrl: h.urls.vaultUrl, name: "bp-kv", credential: vaultCredential(h) },
      agentIdentity: { blueprintClientId: blueprint.appId, agentClientId: agentId },
      authorityHost: h.urls.authorityHost,
    });
    expect(claims(await agent.getToken())).toMatchObject({ appid: agentId });
    expect(signInsFor(h, blueprint.appId)[0]).toMatchObject({ success: true, credential: v.thumbprintHex });
  });

  it("blueprint client secret", async () => {
    const { h, blueprint, agentId } = blueprintWithAgent("bp-secret");
    const t = h.ctx.directory.defaultTenantId;
    const pw = h.ctx.directory.addPasswordCredential(t, blueprint.id, {
      endDateTime: new Date(h.ctx.clock.now() + 86_400_000).toISOString(),
    });
    const agent = make({
      tenantId: h.urls.tenantId,
      clientId: blueprint.appId,
      clientSecret: pw.secretText,
      agentIdentity: { blueprintClientId: blueprint.appId, agentClientId: agentId },
      authorityHost: h.urls.authorityHost,
    });
    expect(claims(await agent.getToken())).toMatchObject({ appid: agentId });
    expect(signInsFor(h, blueprint.appId)[0]).toMatchObject({ credentialType: "secret", success: true });
  });

  it("blueprint certificate error: reloads the new certificate and retries the exchange", async () => {
    const { h, blueprint, agentId } = blueprintWithAgent("bp-retry");
    const v1 = await createVaultCertificate(h, "bp-retry");
    addCert(h, blueprint.id, v1.cerDer, new Date(h.ctx.clock.now() + 120 * MIN).toISOString());
    const agent = make({
      tenantId: h.urls.tenantId,
      keyVaultCertificate: { vaultUrl: h.urls.vaultUrl, name: "bp-retry", credential: vaultCredential(h) },
      agentIdentity: { blueprintClientId: blueprint.appId, agentClientId: agentId },
      authorityHost: h.urls.authorityHost,
      certificatePollIntervalMs: 0,
      now: () => h.ctx.clock.now(),
    });
    await agent.getToken();
    const v2 = await createVaultCertificate(h, "bp-retry");
    addCert(h, blueprint.id, v2.cerDer);
    await h.ctx.clock.advance(121 * MIN);
    expect(claims(await agent.getToken())).toMatchObject({ appid: agentId });
    expect(signInsFor(h, blueprint.appId).map((e) => [e.credential, e.success])).toEqual([
      [v1.thumbprintHex, true],
      [v1.thumbprintHex, false],
      [v2.thumbprintHex, true],
    ]);
  });

  it("an agent identity of another blueprint is refused with Entra's code", async () => {
    const { h, blueprint } = blueprintWithAgent("bp-other");
    const cert = await makeCert({ subject: "CN=bp-other" });
    addCert(h, blueprint.id, cert.der);
    const stranger = blueprintWithAgent("bp-stranger");
    const agent = make({
      tenantId: h.urls.tenantId,
      certificate: cert.pem,
      agentIdentity: { blueprintClientId: blueprint.appId, agentClientId: stranger.agentId },
      authorityHost: h.urls.authorityHost,
    });
    await expect(agent.getToken()).rejects.toMatchObject({ code: "authentication_failed", aadsts: 82001 });
  });
});
