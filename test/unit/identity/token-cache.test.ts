/** The token cache's timing rules, on a hand-moved clock, with an acquire function that counts calls. */
import { describe, expect, it } from "vitest";
import { type AcquiredToken, scopeKey, TokenCache } from "../../../shared/identity/token-cache.js";

const MIN = 60_000;

function harness(make: (n: number) => Partial<AcquiredToken> = () => ({})) {
  let now = 1_000_000;
  let calls = 0;
  let fail: Error | undefined;
  const cache = new TokenCache({
    now: () => now,
    refreshBeforeExpiryMs: 5 * MIN,
    acquire: async () => {
      calls++;
      if (fail) throw fail;
      return { token: `t${calls}`, expiresOnTimestamp: Date.now() + 60 * MIN, ...make(calls) };
    },
  });
  return {
    cache,
    advance: (ms: number) => {
      now += ms;
    },
    calls: () => calls,
    failWith: (e: Error | undefined) => {
      fail = e;
    },
  };
}

describe("TokenCache", () => {
  it("honours refresh_in (refreshAfterTimestamp) over the expiry margin", async () => {
    const h = harness(() => ({ refreshAfterTimestamp: Date.now() + 30 * MIN }));
    expect((await h.cache.get(["s"])).token).toBe("t1");
    h.advance(29 * MIN);
    expect((await h.cache.get(["s"])).token).toBe("t1");
    h.advance(1 * MIN);
    expect((await h.cache.get(["s"])).token).toBe("t2");
  });

  it("refreshes at half the lifetime for short-lived tokens", async () => {
    const h = harness(() => ({ expiresOnTimestamp: Date.now() + 6 * MIN }));
    await h.cache.get(["s"]);
    h.advance(2 * MIN + 59_000);
    expect((await h.cache.get(["s"])).token).toBe("t1");
    h.advance(1_000);
    expect((await h.cache.get(["s"])).token).toBe("t2");
  });

  it("shares one failing request among concurrent callers, and tries again afterwards", async () => {
    const h = harness();
    h.failWith(new Error("AADSTS700027: nope"));
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => h.cache.get(["s"])));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(h.calls()).toBe(1);
    h.failWith(undefined);
    expect((await h.cache.get(["s"])).token).toBe("t2");
  });

  it("keys scope sets without regard to order, blanks or duplicates", () => {
    expect(scopeKey(["b", " a ", "b", ""])).toBe(scopeKey(["a", "b"]));
  });

  it("keeps a background failure for the next get, which retries first", async () => {
    const h = harness();
    await h.cache.get(["s"]);
    h.cache.setRefreshInterval(1);
    h.failWith(new Error("AADSTS7000215: bad secret"));
    h.cache.enableAutoRefresh(true);
    h.advance(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.cache.pendingFailure()?.message).toMatch(/7000215/);
    h.cache.enableAutoRefresh(false);
    h.failWith(undefined);
    // The retry succeeds: the caller gets a token, and the failure is gone.
    expect((await h.cache.get(["s"])).token).toMatch(/^t\d+$/);
    expect(h.cache.pendingFailure()).toBeUndefined();
    h.cache.close();
  });
});
