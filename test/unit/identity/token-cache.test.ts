/**
 * The token cache's timing rules, on a hand-moved virtual clock (its timers too: auto refresh
 * fires when the test moves time, never by real time), with an acquire function that counts calls.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../sandbox/clock.js";
import {
  type AcquiredToken,
  nodeTimers,
  scopeKey,
  TokenCache,
} from "../../../shared/identity/token-cache.js";

const MIN = 60_000;

function harness(make: (n: number) => Partial<AcquiredToken> = () => ({})) {
  // Stands still unless advanced: no real time leaks into `now()`.
  const clock = new VirtualClock(() => 1_000_000);
  let calls = 0;
  let fail: Error | undefined;
  const cache = new TokenCache({
    now: () => clock.now(),
    scheduler: clock,
    refreshBeforeExpiryMs: 5 * MIN,
    acquire: async () => {
      calls++;
      if (fail) throw fail;
      return { token: `t${calls}`, expiresOnTimestamp: Date.now() + 60 * MIN, ...make(calls) };
    },
  });
  return {
    cache,
    clock,
    /** Moves the clock; settles once the timers it reached have run (their refreshes included). */
    advance: (ms: number) => clock.advance(ms),
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
    await h.advance(29 * MIN);
    expect((await h.cache.get(["s"])).token).toBe("t1");
    await h.advance(1 * MIN);
    expect((await h.cache.get(["s"])).token).toBe("t2");
  });

  it("refreshes at half the lifetime for short-lived tokens", async () => {
    const h = harness(() => ({ expiresOnTimestamp: Date.now() + 6 * MIN }));
    await h.cache.get(["s"]);
    await h.advance(2 * MIN + 59_000);
    expect((await h.cache.get(["s"])).token).toBe("t1");
    await h.advance(1_000);
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
    await h.advance(1 * MIN);
    expect(h.calls(), "one background attempt").toBe(2);
    expect(h.cache.pendingFailure()?.message).toMatch(/7000215/);
    h.cache.enableAutoRefresh(false);
    h.failWith(undefined);
    // The retry succeeds: the caller gets a token, and the failure is gone.
    expect((await h.cache.get(["s"])).token).toBe("t3");
    expect(h.cache.pendingFailure()).toBeUndefined();
    h.cache.close();
  });

  it("refreshes in the background when the clock reaches a token's due time, and stops when turned off", async () => {
    const h = harness(() => ({ expiresOnTimestamp: Date.now() + 60 * MIN }));
    h.cache.enableAutoRefresh(true);
    await h.cache.get(["s"]);
    await h.advance(54 * MIN);
    expect(h.calls()).toBe(1);
    await h.advance(1 * MIN); // 5 minutes before expiry
    expect(h.calls()).toBe(2);
    expect(h.cache.cached(["s"])?.token).toBe("t2");
    h.cache.enableAutoRefresh(false);
    expect(h.clock.pendingTimers).toBe(0);
    await h.advance(120 * MIN);
    expect(h.calls()).toBe(2);
    h.cache.enableAutoRefresh(true);
    expect(h.clock.pendingTimers).toBe(1);
    h.cache.close();
    expect(h.clock.pendingTimers, "close() clears the timer").toBe(0);
  });

  it("sets its timers unref'd by default, so a pending refresh never keeps the process alive", () => {
    const t = nodeTimers.setTimeout(() => {}, 60_000) as NodeJS.Timeout;
    try {
      expect(t.hasRef()).toBe(false);
    } finally {
      nodeTimers.clearTimeout(t);
    }
  });
});
