import { ClientSecretCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { makeCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox();

describe("Graph at 100,000 applications", () => {
  it("seeds 100k applications with certificates quickly and pages them at $top=999", async () => {
    const { ctx, urls } = sb();
    const t = ctx.directory.defaultTenantId;
    const certs = await Promise.all([
      makeCert({ subject: "CN=scale-1" }),
      makeCert({ subject: "CN=scale-2" }),
    ]);
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) {
      const app = ctx.directory.createApplication(t, { displayName: `scale-${i}` });
      ctx.directory.addKeyCredential(t, app.id, {
        certificateDer: (certs[i % 2] as { der: Uint8Array }).der,
      });
    }
    const seedMs = performance.now() - started;
    expect(seedMs).toBeLessThan(30_000);

    const caller = ctx.directory.createApplication(t, { displayName: "scanner" });
    const sp = ctx.directory.findByAppId(t, caller.appId, "servicePrincipal");
    ctx.directory.grantAppRole(t, sp?.id as string, "Application.Read.All");
    const pw = ctx.directory.addPasswordCredential(t, caller.id, {
      endDateTime: new Date(Date.now() + 86400_000).toISOString(),
    });
    const cred = new ClientSecretCredential(t, caller.appId, pw.secretText, {
      authorityHost: urls.authorityHost,
      disableInstanceDiscovery: true,
    });
    const token = (await cred.getToken("https://graph.microsoft.com/.default"))?.token;
    let next: string | undefined =
      `${urls.baseUrl}/v1.0/applications?$top=999&$select=id,appId,keyCredentials`;
    let count = 0;
    let pages = 0;
    const listStart = performance.now();
    while (next) {
      const res = await fetch(next, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        value: { keyCredentials: { key: string | null }[] }[];
        "@odata.nextLink"?: string;
      };
      count += body.value.length;
      pages++;
      next = body["@odata.nextLink"];
    }
    const listMs = performance.now() - listStart;
    expect(count).toBe(100_001);
    expect(pages).toBe(101);
    expect(listMs).toBeLessThan(30_000);
    process.stderr.write(
      `seeded 100k apps in ${seedMs.toFixed(0)} ms; listed ${pages} pages in ${listMs.toFixed(0)} ms\n`,
    );
  }, 120_000);
});
