/**
 * One clock: the `rollover` command started with the sandbox's `env` takes its time from the
 * sandbox's virtual clock (ROLLOVER_SANDBOX_CONTROL_URL), so after `POST /_sandbox/clock/advance`
 * Rollover sees what Key Vault sees: a certificate that was fresh becomes due and is renewed, and
 * after the grace window the old key is retired.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../sandbox/seeds.js";
import { rollover } from "../helpers/cli.js";
import { useSandbox } from "../helpers/sandbox.js";

interface Outcome {
  ref: { certificateName: string };
  result: string;
  steps: Array<{ kind: string }>;
}

describe("rollover CLI on the sandbox's clock", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });
  const orders = DEMO.apps.orders;

  // Renew 30 days before expiry only (the lifetime rule would find a year-long certificate with 45
  // days left due already).
  const run = (args: string[]) =>
    rollover(args, {
      PATH: process.env.PATH ?? "",
      ...sb().env,
      ROLLOVER_RENEW_BEFORE_DAYS: "30",
      ROLLOVER_RENEW_AT_LIFETIME_FRACTION: "0.99",
    });

  async function advance(body: Record<string, number>): Promise<void> {
    const res = await fetch(`${sb().urls.controlUrl}/clock/advance`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
  }

  async function ordersOutcome(args: string[]): Promise<Outcome> {
    const r = await run([...args, "--json"]);
    expect([0, 3], r.stderr).toContain(r.code);
    const out = JSON.parse(r.stdout) as { outcomes: Outcome[] };
    const o = out.outcomes.find((x) => x.ref.certificateName === orders.certificate);
    expect(o, r.stdout).toBeDefined();
    return o as Outcome;
  }

  /** Thumbprints of the certificates on the application, from the keys themselves. */
  const keys = () =>
    (sb().ctx.directory.get(sb().urls.tenantId, orders.id)?.keyCredentials ?? []).map((k) =>
      createHash("sha1").update(k.key).digest("hex").toUpperCase(),
    );

  it("renews a certificate once the sandbox's clock makes it due, and retires the old key after the grace window", async () => {
    const { ctx } = sb();
    // 45 days before expiry: not due yet, on the sandbox's clock as on the wall clock.
    const fresh = await ordersOutcome(["plan"]);
    expect(fresh.steps.map((s) => s.kind)).not.toContain("renew");

    // 30 days later on the sandbox's clock (15 left): due. The wall clock has not moved.
    await advance({ days: 30 });
    const due = await ordersOutcome(["plan"]);
    expect(due.steps[0]?.kind).toBe("renew");
    expect(ctx.vault.versions(orders.certificate)).toHaveLength(1);

    const applied = await ordersOutcome(["apply", "--yes", "--no-sweep"]);
    expect(applied.steps.map((s) => s.kind)).toContain("renew");
    expect(ctx.vault.versions(orders.certificate)).toHaveLength(2);
    const newest = ctx.vault.latest(orders.certificate)!;
    // The new version is dated on the sandbox's clock.
    expect(newest.created * 1000).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    // Attached and verified, the old key stays for the grace window; past it, it is retired.
    const attached = await ordersOutcome(["apply", "--yes", "--no-sweep"]);
    expect(attached.result, JSON.stringify(attached)).not.toBe("failed");
    expect(keys()).toContain(newest.thumbprintHex);
    expect(keys().length).toBe(2);

    await advance({ hours: 73 });
    const retired = await ordersOutcome(["apply", "--yes", "--no-sweep"]);
    expect(retired.steps.map((s) => s.kind)).toContain("retire");
    expect(keys().length).toBe(1);
    expect(keys()).toEqual([newest.thumbprintHex]);
  });
});
