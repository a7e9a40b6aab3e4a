/**
 * The clock a Rollover process reads (shared/clock.ts): the sandbox's virtual clock when
 * ROLLOVER_SANDBOX_CONTROL_URL is set, refused next to real Azure, the system's otherwise.
 */
import { describe, expect, it } from "vitest";
import { parseFaultSpec } from "../../sandbox/faults.js";
import { clockFor, SandboxClock, systemClock } from "../../shared/clock.js";
import { isConfigError, loadConfig } from "../../shared/config.js";
import { useSandbox } from "../helpers/sandbox.js";

const DAY = 86_400_000;

/**
 * Syncs `c` and returns how far off it may be: the clock reads the sandbox's time over HTTP and
 * places it at the request's midpoint, so it can be off by at most half the round trip (however
 * slow a loaded machine makes it); half the whole call bounds that.
 */
async function timedSync(c: { sync(): Promise<void> }): Promise<number> {
  const started = Date.now();
  await c.sync();
  // + 2: the midpoint is rounded, and the two clocks compared are read a tick apart.
  return (Date.now() - started) / 2 + 2;
}

describe("the process clock", () => {
  const sb = useSandbox();

  it("follows the sandbox's clock, read again on sync", async () => {
    const r = { clock: clockFor(loadConfig({ ...sb().env })) };
    expect(r.clock.source).toBe("sandbox");
    let bound = await timedSync(r.clock);
    expect(Math.abs(r.clock.now() - sb().ctx.clock.now())).toBeLessThanOrEqual(bound);
    await sb().ctx.clock.advance(10 * DAY);
    // Until the next sync the process keeps the time it read.
    expect(sb().ctx.clock.now() - r.clock.now()).toBeGreaterThan(9 * DAY);
    bound = await timedSync(r.clock);
    expect(Math.abs(r.clock.now() - sb().ctx.clock.now())).toBeLessThanOrEqual(bound);
    expect(r.clock.now() - Date.now()).toBeGreaterThan(9 * DAY);
  });

  it("reads the clock through a passing failure of the control API", async () => {
    const c = new SandboxClock(sb().urls.controlUrl);
    sb().ctx.faults.set(parseFaultSpec("control:/clock=503x2"), 1);
    let bound: number;
    try {
      bound = await timedSync(c);
    } finally {
      sb().ctx.faults.clear();
    }
    expect(Math.abs(c.now() - sb().ctx.clock.now())).toBeLessThanOrEqual(bound);
    sb().ctx.faults.set(parseFaultSpec("control:/clock=503x3"), 1);
    try {
      await expect(new SandboxClock(sb().urls.controlUrl).sync()).rejects.toThrow(/HTTP 503/);
    } finally {
      sb().ctx.faults.clear();
    }
  });

  it("is one clock per control URL in a process", () => {
    const config = loadConfig({ ...sb().env });
    expect(clockFor(config)).toBe(clockFor(config));
  });

  it("refuses to be read before it was synced", () => {
    const c = new SandboxClock(sb().urls.controlUrl);
    expect(() => c.now()).toThrow(/sync/);
  });

  it("says why when the sandbox does not answer", async () => {
    const c = new SandboxClock("https://127.0.0.1:1/_sandbox");
    await expect(c.sync()).rejects.toThrow(/ROLLOVER_SANDBOX_CONTROL_URL/);
  });

  it("is the system clock without ROLLOVER_SANDBOX_CONTROL_URL", () => {
    expect(clockFor(loadConfig({}))).toBe(systemClock);
  });

  it("never applies next to real Azure: the setting is refused, naming it", () => {
    const env = {
      ROLLOVER_SANDBOX_CONTROL_URL: "https://127.0.0.1:8443/_sandbox",
      ROLLOVER_VAULT_URLS: "https://contoso-kv.vault.azure.net/",
    };
    let err: unknown;
    try {
      clockFor(loadConfig(env));
    } catch (e) {
      err = e;
    }
    expect(isConfigError(err)).toBe(true);
    expect((err as Error).message).toMatch(/ROLLOVER_SANDBOX_CONTROL_URL: is for the local sandbox only/);
    // Also with only the defaults (Graph and the authority host are real Azure's).
    expect(() =>
      clockFor(loadConfig({ ROLLOVER_SANDBOX_CONTROL_URL: env.ROLLOVER_SANDBOX_CONTROL_URL })),
    ).toThrow(/graph\.microsoft\.com/);
  });
});
