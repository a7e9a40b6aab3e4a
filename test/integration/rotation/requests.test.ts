import { describe, expect, it } from "vitest";
import { DEMO } from "../../../sandbox/seeds.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

/**
 * Requests a rotation sends, per service, against the lower bound in docs/design.md ("Requests:
 * the lower bound") plus the extras the SDKs add that the design doc names.
 */
describe("requests of a rotation run", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });

  it("a due binding in self mode: one observation for the run, near the lower bound; a run with nothing to do reads versions, policy and the target only", async () => {
    const { engine } = makeEngine(sb());
    const { urls, requestCounts } = sb();
    const u = new URL(urls.vaultUrl);
    const ref = { vaultName: `${u.hostname}:${u.port}`, certificateName: DEMO.apps.payments.certificate };

    requestCounts.reset();
    const first = await engine.reconcile(ref);
    expect(first.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    const due = requestCounts.get();
    // Lower bound: Key Vault 9, Graph 2, Entra 2 (13). Extras the SDKs add: the certificate read
    // when the operation poller sees the operation finished (+1), and, once per client in a new
    // process, the bearer challenge (+2: certificates, keys); Graph: the app management policy,
    // once per process (+1); Entra: the custom authority's OpenID metadata per credential (+2).
    // The sandbox takes 250 ms to issue, so the renewal is polled once more (+1). No key is read
    // before a `sign`, and the signing version's certificate came with the gathered policy.
    expect(due.keyvault).toBeLessThanOrEqual(9 + 1 + 2 + 1);
    expect(due.graph).toBeLessThanOrEqual(2 + 1);
    expect(due["graph:write"]).toBe(1);
    expect(due["entra:write"]).toBe(2);
    expect(due.entra).toBeLessThanOrEqual(2 + 2);

    // Within the grace window: the observation alone (versions, policy; the target), no
    // pending operation (no renewal is due), nothing written.
    requestCounts.reset();
    const again = await engine.reconcile(ref);
    expect(again.steps.map((s) => s.kind)).toEqual(["wait"]);
    const idle = requestCounts.get();
    expect(idle.keyvault).toBe(2);
    expect(idle.graph).toBe(1);
    expect(idle["keyvault:write"] ?? 0).toBe(0);
    expect(idle["graph:write"] ?? 0).toBe(0);
    expect(idle.entra ?? 0).toBe(0);
  });
});
