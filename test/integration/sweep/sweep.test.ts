import { ManagedIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { GraphEdge } from "../../../shared/azure/graph.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { loadConfig } from "../../../shared/config.js";
import { policiesFrom } from "../../../shared/core/plan.js";
import { Reason } from "../../../shared/core/reasons.js";
import { runSweep } from "../../../shared/sweep/run.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const DAY = 86_400_000;

describe("sweep against the sandbox", () => {
  const sb = useSandbox({ seed: "demo" });

  function deps(settings: Record<string, string>) {
    const h = sb();
    useSandboxIdentity(h);
    const config = loadConfig({ ...h.env, ...settings });
    const credential = new ManagedIdentityCredential({ clientId: h.ctx.managedIdentity.clientId });
    const graph = new GraphEdge(config.graphBaseUrl);
    const audit = new MemoryAuditSink();
    return {
      audit,
      deps: {
        graph,
        client: graph.client(credential),
        tenantId: h.urls.tenantId,
        vaults: [new VaultEdge(h.urls.vaultUrl, credential)],
        selfIds: [h.ctx.managedIdentity.objectId, h.ctx.managedIdentity.clientId],
        policy: policiesFrom(config).sweep,
        audit,
        now: () => h.ctx.clock.now(),
        dryRun: false,
      },
    };
  }

  it("report mode lists findings and changes nothing", async () => {
    const h = sb();
    const before = JSON.stringify(
      h.ctx.directory.get(h.urls.tenantId, "a1000000-0000-4000-8000-000000000004"),
    );
    const { deps: d, audit } = deps({});
    const s = await runSweep(d);
    expect(s.findings[Reason.CredentialExpired]).toBeGreaterThan(0);
    expect(s.findings[Reason.CredentialOverLongLived]).toBeGreaterThan(0);
    expect(s.removed).toBe(0);
    expect(s.reportedOnly).toBeGreaterThan(0);
    expect(JSON.stringify(h.ctx.directory.get(h.urls.tenantId, "a1000000-0000-4000-8000-000000000004"))).toBe(
      before,
    );
    expect(audit.events.every((e) => e.outcome !== "succeeded")).toBe(true);
  });

  it("remove mode removes exactly the cap from owned apps and defers the rest", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const dir = h.ctx.directory;
    // Five owned apps, each with a valid secret and an expired one: five removable credentials.
    const owned: string[] = [];
    for (let i = 0; i < 5; i++) {
      const app = dir.createApplication(t, { displayName: `owned-${i}` });
      owned.push(app.id);
      dir.addOwner(t, app.id, h.ctx.managedIdentity.objectId);
      dir.addPasswordCredential(t, app.id, {
        endDateTime: new Date(h.ctx.clock.now() + 300 * DAY).toISOString(),
      });
      dir.addPasswordCredential(t, app.id, {
        startDateTime: new Date(h.ctx.clock.now() - 400 * DAY).toISOString(),
        endDateTime: new Date(h.ctx.clock.now() - 30 * DAY).toISOString(),
      });
    }
    const { deps: d } = deps({
      ROLLOVER_SWEEP_MODE: "remove",
      ROLLOVER_MAX_REMOVALS_PER_RUN: "3",
      ROLLOVER_DENY_LIST: "a1000000-0000-4000-8000-000000000004",
    });
    const s = await runSweep(d);
    expect(s.failed).toBe(0);
    expect(s.removed).toBe(3);
    expect(s.deferred).toBe(2);
    const now = h.ctx.clock.now();
    const expiredLeft = owned
      .map((id) => dir.get(t, id)!)
      .flatMap((o) => o.passwordCredentials)
      .filter((p) => Date.parse(p.endDateTime) < now).length;
    expect(expiredLeft).toBe(2);
    // The valid secrets are all still there.
    expect(
      owned.every((id) => dir.get(t, id)!.passwordCredentials.some((p) => Date.parse(p.endDateTime) > now)),
    ).toBe(true);
  });
});
