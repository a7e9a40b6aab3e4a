import { describe, expect, it } from "vitest";
import { customIdentifier, DEMO } from "../../../sandbox/seeds.js";
import { buildRollover, sweepDepsFor } from "../../../shared/app.js";
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { Reason } from "../../../shared/core/reasons.js";
import { runSweep } from "../../../shared/sweep/run.js";
import { makeCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { sandboxSweepDeps } from "./helpers.js";

const DAY = 86_400_000;

describe("sweep under replication lag (graph=stale) with non-thumbprint identifiers", () => {
  const sb = useSandbox({ seed: "demo", faults: "graph=stale/60000", azurite: true });

  const deps = (settings: Record<string, string>) => sandboxSweepDeps(sb(), settings);

  it("judges keys by their certificate: a key labelled with a bound version's thumbprint is a person's (unmanaged, kept); a bound key with a label is not", async () => {
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
    // Not backed by any version (its certificate is not the bound one) and not attached by
    // Rollover: a person's key, reported and kept.
    const unmanaged = audit.events.filter((e) => e.reason === Reason.KeyUnmanaged);
    expect(unmanaged.map((e) => e.keyId)).toContain(kc.keyId);
    const strayFinding = unmanaged.find((e) => e.keyId === kc.keyId)!;
    expect(strayFinding.thumbprint).toBe(stray.sha1Hex);
    const orphaned = [...unmanaged, ...audit.events.filter((e) => e.reason === Reason.KeyOrphaned)];
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
      ROLLOVER_MANAGED_MODE: "true",
      ROLLOVER_GRACE_HOURS: "1",
      ROLLOVER_MAX_REMOVALS_PER_RUN: "10",
      ROLLOVER_DENY_LIST: DEMO.apps.legacy.id,
    };
    const sweepOnce = async () => {
      const audit = new MemoryAuditSink();
      const r = buildRollover({ ...h.env, ...settings });
      const s = await runSweep(sweepDepsFor(r, { audit, now: () => h.ctx.clock.now(), dryRun: false }));
      return { s, audit };
    };
    // A minute of virtual time passes, so the first sweep's reads show the new apps: it sees the
    // secrets for the first time; past the grace window the next one removes them.
    await h.ctx.clock.advance(61_000);
    await sweepOnce();
    await h.ctx.clock.advance(2 * 3_600_000);
    const first = (await sweepOnce()).s;
    expect(first.failed).toBe(0);
    expect(first.removed).toBeGreaterThanOrEqual(3);
    const now = h.ctx.clock.now();
    const expiredLeft = () =>
      owned
        .flatMap((id) => dir.get(t, id)!.passwordCredentials)
        .filter((p) => Date.parse(p.endDateTime) < now);
    expect(expiredLeft()).toEqual([]);
    // The next sweep reads a minute behind: the removed secrets still show, and are already gone.
    const { s: second, audit } = await sweepOnce();
    expect(second.failed).toBe(0);
    expect(second.removed).toBe(0);
    // The lagging read still shows them: a removed credential's first sight is forgotten, so
    // it is seen afresh and held by the grace window; nothing is sent for it.
    expect(
      audit.events.filter(
        (e) =>
          e.action === "sweepDeferred" &&
          e.reason === Reason.GuardGraceWindow &&
          owned.includes(e.targetObjectId ?? ""),
      ),
    ).toHaveLength(3);
    expect(
      audit.events.some((e) => e.action === "sweepRemoval" && owned.includes(e.targetObjectId ?? "")),
    ).toBe(false);
    expect(owned.every((id) => dir.get(t, id)!.passwordCredentials.length === 1)).toBe(true);
    expect(h.ctx.faults.hits.get("stale") ?? 0).toBeGreaterThan(0);
  });
});
