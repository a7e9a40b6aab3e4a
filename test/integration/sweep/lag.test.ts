/**
 * The sweep against the stricter Graph: replication lag on (`graph=stale/60000`: every read sees
 * the directory as it was a virtual minute ago) and keys whose customKeyIdentifier is not their
 * thumbprint. A removal is made once and a read that does not show it yet is not taken for a
 * failure; a key is judged by its certificate, never by the label a writer gave it.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { customIdentifier, DEMO } from "../../../sandbox/seeds.js";
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { GraphEdge } from "../../../shared/azure/graph.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { loadConfig } from "../../../shared/config.js";
import { policiesFrom } from "../../../shared/core/plan.js";
import { Reason } from "../../../shared/core/reasons.js";
import { runSweep, type SweepDeps } from "../../../shared/sweep/run.js";
import { makeCert } from "../../helpers/certs.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const DAY = 86_400_000;

describe("sweep under replication lag (graph=stale) with non-thumbprint identifiers", () => {
  const sb = useSandbox({ seed: "demo", faults: "graph=stale/60000" });

  function deps(settings: Record<string, string>): { deps: SweepDeps; audit: MemoryAuditSink } {
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

  it("judges keys by their certificate: a key labelled with a bound version's thumbprint is still orphaned; a bound key with a label is not", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const orders = DEMO.apps.orders;
    const bound = h.ctx.vault.latest(orders.certificate)!;
    const stray = await makeCert({ subject: "CN=hand-added" });
    const kc = h.ctx.directory.addKeyCredential(t, orders.id, {
      certificateDer: stray.der,
      // A label that claims to be the bound version's thumbprint.
      customKeyIdentifier: Buffer.from(bound.thumbprintHex, "hex").toString("base64"),
    });
    const { deps: d, audit } = deps({});
    await runSweep(d);
    const orphaned = audit.events.filter((e) => e.reason === Reason.KeyOrphaned);
    expect(orphaned.map((e) => e.keyId)).toContain(kc.keyId);
    const strayFinding = orphaned.find((e) => e.keyId === kc.keyId)!;
    expect(strayFinding.thumbprint).toBe(stray.sha1Hex);
    // payments-api's key carries a label, not its thumbprint; it is the binding's own key.
    const payments = h.ctx.directory.get(t, DEMO.apps.payments.id)!;
    expect(payments.keyCredentials[0]!.customKeyIdentifier).toBe(customIdentifier("payments-api 2025 cert"));
    expect(orphaned.some((e) => e.targetObjectId === DEMO.apps.payments.id)).toBe(false);
    expect(h.ctx.directory.get(t, orders.id)!.keyCredentials.some((k) => k.keyId === kc.keyId)).toBe(true);
  });

  it("removes once; a second sweep whose reads do not show the removals yet neither fails nor removes again", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const dir = h.ctx.directory;
    const owned: string[] = [];
    for (let i = 0; i < 3; i++) {
      const app = dir.createApplication(t, { displayName: `lag-owned-${i}` });
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
    const settings = {
      ROLLOVER_SWEEP_MODE: "remove",
      ROLLOVER_MAX_REMOVALS_PER_RUN: "10",
      ROLLOVER_DENY_LIST: DEMO.apps.legacy.id,
    };
    // A minute of virtual time passes, so the first sweep's reads show the new apps.
    await h.ctx.clock.advance(61_000);
    const first = await runSweep(deps(settings).deps);
    expect(first.failed).toBe(0);
    expect(first.removed).toBeGreaterThanOrEqual(3);
    const now = h.ctx.clock.now();
    const expiredLeft = () =>
      owned
        .flatMap((id) => dir.get(t, id)!.passwordCredentials)
        .filter((p) => Date.parse(p.endDateTime) < now);
    expect(expiredLeft()).toEqual([]);
    // The next sweep reads a minute behind: the removed secrets still show, and are already gone.
    const { deps: d2, audit } = deps(settings);
    const second = await runSweep(d2);
    expect(second.failed).toBe(0);
    expect(second.removed).toBe(0);
    expect(
      audit.events.filter(
        (e) =>
          e.action === "sweepRemoval" && e.outcome === "skipped" && owned.includes(e.targetObjectId ?? ""),
      ),
    ).toHaveLength(3);
    expect(owned.every((id) => dir.get(t, id)!.passwordCredentials.length === 1)).toBe(true);
    expect(h.ctx.faults.hits.get("stale") ?? 0).toBeGreaterThan(0);
  });
});
