/**
 * Graph paging over a seeded tenant larger than one page. How fast the sandbox seeds and serves
 * 100,000 and more applications is the benchmark's question (`npm run bench`, bench/run.ts), not a
 * test's: this one checks that the list is whole and paged as Graph pages it.
 */
import { ClientSecretCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { makeCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox();

/** Three full pages of 999, and one more object (the scanner) on a fourth. */
const APPS = 3 * 999;

describe("Graph paging over several pages of applications", () => {
  it("lists every application exactly once at $top=999, keys null on a list", async () => {
    const { ctx, urls } = sb();
    const t = ctx.directory.defaultTenantId;
    const certs = await Promise.all([
      makeCert({ subject: "CN=scale-1" }),
      makeCert({ subject: "CN=scale-2" }),
    ]);
    const seeded = new Set<string>();
    for (let i = 0; i < APPS; i++) {
      const app = ctx.directory.createApplication(t, { displayName: `scale-${i}` });
      ctx.directory.addKeyCredential(t, app.id, {
        certificateDer: (certs[i % 2] as { der: Uint8Array }).der,
      });
      seeded.add(app.id);
    }

    const caller = ctx.directory.createApplication(t, { displayName: "scanner" });
    seeded.add(caller.id);
    const sp = ctx.directory.findByAppId(t, caller.appId, "servicePrincipal");
    ctx.directory.grantAppRole(t, sp?.id as string, "Application.Read.All");
    const pw = ctx.directory.addPasswordCredential(t, caller.id, {
      endDateTime: new Date(ctx.clock.now() + 86400_000).toISOString(),
    });
    const cred = new ClientSecretCredential(t, caller.appId, pw.secretText, {
      authorityHost: urls.authorityHost,
      disableInstanceDiscovery: true,
    });
    const token = (await cred.getToken("https://graph.microsoft.com/.default"))?.token;
    let next: string | undefined =
      `${urls.baseUrl}/v1.0/applications?$top=999&$select=id,appId,keyCredentials`;
    const listed: string[] = [];
    const pageSizes: number[] = [];
    let keys = 0;
    while (next) {
      const res = await fetch(next, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        value: { id: string; keyCredentials: { key: string | null }[] }[];
        "@odata.nextLink"?: string;
      };
      pageSizes.push(body.value.length);
      for (const o of body.value) {
        listed.push(o.id);
        keys += o.keyCredentials.length;
        for (const k of o.keyCredentials) expect(k.key).toBeNull();
      }
      next = body["@odata.nextLink"];
    }
    expect(pageSizes).toEqual([999, 999, 999, 1]);
    expect(listed.length).toBe(APPS + 1);
    expect(new Set(listed)).toEqual(seeded);
    expect(keys).toBe(APPS);
  });
});
