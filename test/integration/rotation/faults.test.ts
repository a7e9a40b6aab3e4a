/**
 * Faults from the sandbox: Graph and Key Vault 429 storms and 503s. The rotation completes
 * within the SDKs' retry budget, or stops cleanly (a failed outcome with a reason, nothing half
 * done) and completes on the next run. No key material appears in any message.
 */
import { describe, expect, it } from "vitest";
import { parseFaultSpec } from "../../../sandbox/faults.js";
import { makeEngine, seedDueBinding } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const DAY = 86_400_000;
const KEY_MATERIAL = /-----BEGIN|PRIVATE KEY|MII[A-Za-z0-9+/]{60}|eyJ[\w-]{10,}\.[\w-]{10,}\./;

describe("rotation under faults", () => {
  const sb = useSandbox({ seed: "empty", azurite: true });

  const cases: Array<[string, string]> = [
    ["Graph 429 storm (half of all Graph calls, Retry-After 1)", "graph=429@0.5/1"],
    ["Key Vault 503s (the next four calls)", "keyvault=503x4/1"],
    ["Key Vault 429 storm", "keyvault=429@0.4/1"],
    ["Graph 503s on writes", "graph,POST=503x2/1"],
  ];
  for (const [i, [name, spec]] of cases.entries()) {
    it(`${name}: completes, or stops cleanly and completes on the next run`, async () => {
      const { ctx } = sb();
      const { app, ref } = await seedDueBinding(sb(), `faulty-${i}`);
      const { engine, audit } = makeEngine(sb());
      ctx.faults.set(parseFaultSpec(spec), 42 + i);
      let out = await engine.reconcile(ref);
      ctx.faults.clear();
      if (out.result === "failed") {
        expect(out.message).not.toMatch(KEY_MATERIAL);
        // A clean stop: back-off recorded; the next run after it resumes.
        await ctx.clock.advance(DAY);
        out = await engine.reconcile(ref);
      }
      expect(
        ["waiting", "converged"],
        `${out.reason}: ${out.message} ${JSON.stringify(audit.events.map((e) => [e.action, e.outcome, e.reason, e.message]))}`,
      ).toContain(out.result);
      expect(ctx.vault.versions(ref.certificateName)).toHaveLength(2);
      const keys = ctx.directory.get(sb().urls.tenantId, app.id)!.keyCredentials;
      expect(keys.length).toBeGreaterThanOrEqual(1);
      for (const e of audit.events) expect(JSON.stringify(e)).not.toMatch(KEY_MATERIAL);
    });
  }
});
