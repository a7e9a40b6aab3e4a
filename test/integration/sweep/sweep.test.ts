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
    // Without first-sight records (no storage) every candidate counts as seen now: held by grace.
    expect(s.reportedOnly).toBe(0);
    expect(s.held[Reason.GuardGraceWindow]).toBeGreaterThan(0);
    expect(JSON.stringify(h.ctx.directory.get(h.urls.tenantId, "a1000000-0000-4000-8000-000000000004"))).toBe(
      before,
    );
    expect(audit.events.every((e) => e.outcome !== "succeeded")).toBe(true);
  });
});
