/** An upper-case AZURE_TENANT_ID names the same tenant: own-tenant bindings stay own-tenant. */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../../sandbox/seeds.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

describe("tenant ids in upper case", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });

  it("managed mode (own tenant only) still renews and attaches when Rollover's tenant id is upper case", async () => {
    const base = makeEngine(sb(), { settings: { ROLLOVER_MANAGED_MODE: "true" } });
    const { engine } = makeEngine(sb(), {
      settings: { ROLLOVER_MANAGED_MODE: "true" },
      rollover: { ...base.deps.rollover, tenantId: sb().urls.tenantId.toUpperCase() },
    });
    const u = new URL(sb().urls.vaultUrl);
    const out = await engine.reconcile({
      vaultName: `${u.hostname}:${u.port}`,
      certificateName: DEMO.apps.reporting.certificate,
    });
    expect(out.result).not.toBe("refused");
    expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    expect(out.steps[1]).toMatchObject({ kind: "attach", mode: "managed" });
  });
});
