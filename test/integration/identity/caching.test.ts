/**
 * Token caching against the sandbox's virtual clock: tokens are reused until they are due,
 * refreshed ahead of expiry, re-acquired after the refresh interval; concurrent calls share one
 * sign-in; auto refresh runs without callers and keeps its failures for the next call. Auto
 * refresh sleeps on the virtual clock's timers (`scheduler`), so it fires when a test moves time.
 */
import { afterEach, describe, expect, it } from "vitest";
import { EntraAgentId } from "../../../shared/identity/index.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { addCert, makeCert, registerApp, signInsFor } from "./helpers.js";

const sb = useSandbox();
const MIN = 60_000;
const open: EntraAgentId[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

async function setup(name: string) {
  const h = sb();
  const app = await registerApp(h, name);
  const agent = new EntraAgentId({
    tenantId: h.urls.tenantId,
    clientId: app.appId,
    certificate: app.cert.pem,
    authorityHost: h.urls.authorityHost,
    now: () => h.ctx.clock.now(),
    scheduler: h.ctx.clock,
  });
  open.push(agent);
  return { h, app, agent, log: () => signInsFor(h, app.appId) };
}

describe("EntraAgentId token cache", () => {
  it("reuses a token until 5 minutes before it expires, then signs in again", async () => {
    const { h, agent, log } = await setup("cache-lifetime");
    const first = await agent.getToken();
    expect(await agent.getToken()).toBe(first);
    expect(log()).toHaveLength(1);
    await h.ctx.clock.advance(50 * MIN);
    expect(await agent.getToken()).toBe(first);
    expect(log()).toHaveLength(1);
    await h.ctx.clock.advance(5 * MIN); // the sandbox's tokens live 3599 s: now inside the last 5 minutes
    const second = await agent.getToken();
    expect(second).not.toBe(first);
    expect(log()).toHaveLength(2);
    expect(await agent.getToken()).toBe(second);
    expect(log()).toHaveLength(2);
  });

  it("caches per scope set", async () => {
    const { agent, log } = await setup("cache-scopes");
    const graph = await agent.getToken("https://graph.microsoft.com/.default");
    const vault = await agent.getToken(["https://vault.azure.net/.default"]);
    expect(vault).not.toBe(graph);
    expect(await agent.getToken()).toBe(graph);
    expect(await agent.getToken(" https://vault.azure.net/.default ")).toBe(vault);
    expect(log()).toHaveLength(2);
  });

  it("re-acquires after setRefreshInterval, however long the token would last", async () => {
    const { h, agent, log } = await setup("cache-interval");
    agent.setRefreshInterval(10 * MIN);
    const first = await agent.getToken();
    await h.ctx.clock.advance(9 * MIN);
    expect(await agent.getToken()).toBe(first);
    await h.ctx.clock.advance(1 * MIN);
    expect(await agent.getToken()).not.toBe(first);
    expect(log()).toHaveLength(2);
  });

  it("shares one request among concurrent callers: 10 getToken calls, 1 sign-in", async () => {
    const { agent, log } = await setup("cache-coalesce");
    const tokens = await Promise.all(Array.from({ length: 10 }, () => agent.getToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(log()).toHaveLength(1);
  });

  it("shares one refresh among concurrent callers once the token is due", async () => {
    const { h, agent, log } = await setup("cache-coalesce-refresh");
    await agent.getToken();
    await h.ctx.clock.advance(56 * MIN);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => agent.getAuthHeader()));
    expect(new Set(tokens).size).toBe(1);
    expect(log()).toHaveLength(2);
  });

  it("auto refresh re-acquires in the background when the clock reaches the refresh time", async () => {
    const { h, agent, log } = await setup("cache-auto");
    agent.setRefreshInterval(10 * MIN);
    agent.enableAutoRefresh(true);
    const first = await agent.getToken();
    await h.ctx.clock.advance(9 * MIN);
    expect(log()).toHaveLength(1);
    // `advance` settles once the timers it reached have run, background sign-ins included.
    await h.ctx.clock.advance(1 * MIN);
    expect(log()).toHaveLength(2);
    await h.ctx.clock.advance(10 * MIN);
    expect(log()).toHaveLength(3);
    const latest = await agent.getToken();
    expect(latest).not.toBe(first);
    expect(log(), "getToken answered from the background refresh").toHaveLength(3);
    agent.enableAutoRefresh(false);
    await h.ctx.clock.advance(30 * MIN);
    expect(log(), "no background sign-in once turned off").toHaveLength(3);
  });

  it("keeps a background failure and surfaces it on the next call, never as an unhandled rejection", async () => {
    const h = sb();
    const t = h.ctx.directory.defaultTenantId;
    const app = h.ctx.directory.createApplication(t, { displayName: "cache-auto-fail" });
    const cert = await makeCert({ subject: "CN=cache-auto-fail" });
    addCert(h, app.id, cert.der, new Date(h.ctx.clock.now() + 120 * MIN).toISOString());
    const seen: Error[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    const agent = new EntraAgentId({
      tenantId: h.urls.tenantId,
      clientId: app.appId,
      certificate: cert.pem,
      authorityHost: h.urls.authorityHost,
      now: () => h.ctx.clock.now(),
      scheduler: h.ctx.clock,
      onBackgroundError: (e) => seen.push(e),
    });
    open.push(agent);
    try {
      await agent.getToken();
      agent.setRefreshInterval(100);
      agent.enableAutoRefresh(true);
      await h.ctx.clock.advance(121 * MIN); // the registered key has expired; the timer fires
      expect(seen).toHaveLength(1);
      expect(agent.lastError).toBe(seen[0]);
      expect(seen[0]?.message).toMatch(/AADSTS700027/);
      const err = (await agent.getToken().then(
        () => undefined,
        (e: unknown) => e,
      )) as { code: string; aadsts: number; message: string };
      expect(err).toMatchObject({ code: "refresh_failed", aadsts: 700027 });
      expect(err.message).toMatch(/Background token refresh .* failed .* and the retry failed too/);
      // Surfaced once: the call after it is an ordinary attempt, failing for the same reason.
      agent.enableAutoRefresh(false);
      await expect(agent.getToken()).rejects.toMatchObject({ code: "authentication_failed" });
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("fails with code 'closed' after close()", async () => {
    const { agent } = await setup("cache-close");
    await agent.getToken();
    await agent.close();
    await expect(agent.getToken()).rejects.toMatchObject({ code: "closed" });
  });
});
