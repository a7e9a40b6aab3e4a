import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SandboxHandle } from "../../../sandbox/index.js";
import { parseFaultSpec } from "../../../sandbox/faults.js";
import { DEMO } from "../../../sandbox/seeds.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;

/** Thumbprints of a target's keys, from the certificates themselves. */
function thumbs(sb: SandboxHandle, id: string): string[] {
  return sb.ctx.directory
    .get(sb.urls.tenantId, id)!
    .keyCredentials.map((k) => createHash("sha1").update(k.key).digest("hex").toUpperCase());
}

function engineVaultName(vaultUrl: string): string {
  const u = new URL(vaultUrl);
  return `${u.hostname}:${u.port}`;
}

/**
 * The same rotations with Graph's replication lag on (the sandbox's `graph=stale/60000`: every
 * Graph read sees the directory as it was a virtual minute ago). Rollover trusts its own accepted
 * writes over such reads: it never adds a key twice, never repeats a removal, and never takes a
 * stale read for a failed change.
 */
describe("rotation engine under replication lag (graph=stale)", () => {
  const sb = useSandbox({ seed: "demo", azurite: true, faults: "graph=stale/60000" });
  const vault = () => engineVaultName(sb().urls.vaultUrl);

  it("self mode: attaches once, verifies and waits though reads do not show the new key; retires once", async () => {
    const { engine, audit, deps } = makeEngine(sb());
    const { ctx, urls } = sb();
    const app = DEMO.apps.orders;
    const ref = { vaultName: vault(), certificateName: app.certificate };
    // Due for renewal: past two thirds of its lifetime.
    const first = await engine.reconcile(ref);
    expect(first.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    expect(ctx.directory.get(urls.tenantId, app.id)!.keyCredentials).toHaveLength(2);
    // A read a minute behind still shows one key; the engine does not attach again.
    const again = await engine.reconcile(ref);
    expect(again.steps.map((s) => s.kind)).toEqual(["wait"]);
    expect(ctx.directory.get(urls.tenantId, app.id)!.keyCredentials).toHaveLength(2);
    await ctx.clock.advance(73 * HOUR);
    const retire = await engine.reconcile(ref);
    expect(retire.steps.map((s) => s.kind)).toEqual(["retire", "none"]);
    // The removal is not visible to the next read yet: nothing is removed again, nothing fails.
    const after = await engine.reconcile(ref);
    expect(after.steps.map((s) => s.kind)).toEqual(["none"]);
    // Had the run died before recording its removal, the next one would retire again from the
    // stale read: Graph's 404 for the key says it is gone, and that is no failure.
    const record = (await deps.state.get(ref.vaultName, ref.certificateName))!;
    const { writes: _forgotten, ...lost } = record;
    await deps.state.put(ref.vaultName, ref.certificateName, lost, "verified");
    const redo = await engine.reconcile(ref);
    expect(redo.steps.map((s) => s.kind)).toEqual(["retire", "none"]);
    expect(thumbs(sb(), app.id)).toEqual([ctx.vault.latest(app.certificate)!.thumbprintHex]);
    expect(audit.events.filter((e) => e.outcome === "failed")).toEqual([]);
    expect(ctx.faults.hits.get("stale") ?? 0).toBeGreaterThan(0);
  });

  it("managed mode: one PATCH, no read-back failure; a retire waits until reads show Rollover's own attach (ReplicationPending)", async () => {
    const { engine, audit } = makeEngine(sb(), {
      settings: { ROLLOVER_MANAGED_MODE: "true", ROLLOVER_GRACE_HOURS: "0" },
    });
    const { ctx, urls } = sb();
    const app = DEMO.apps.reporting;
    const ref = { vaultName: vault(), certificateName: app.certificate };
    const first = await engine.reconcile(ref);
    // With no grace the expired key could go at once, but rewriting keyCredentials from a read
    // that does not show the new key yet would drop it: the engine waits instead.
    expect(first.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    expect(first.reason).toBe("ReplicationPending");
    expect(ctx.directory.get(urls.tenantId, app.id)!.keyCredentials).toHaveLength(2);
    await ctx.clock.advance(61_000);
    const last = await engine.reconcile(ref);
    expect(last.steps.map((s) => s.kind)).toEqual(["retire", "none"]);
    expect(thumbs(sb(), app.id)).toEqual([ctx.vault.latest(app.certificate)!.thumbprintHex]);
    const again = await engine.reconcile(ref);
    expect(again.steps.map((s) => s.kind)).toEqual(["none"]);
    expect(audit.events.filter((e) => e.outcome === "failed")).toEqual([]);
  });

  it("Entra lag too (entra=stale): verify retries until the token endpoint knows the new key", async () => {
    const { engine, audit } = makeEngine(sb());
    const { ctx } = sb();
    ctx.faults.set(parseFaultSpec("graph=stale/60000;entra=stale/1500"));
    const app = DEMO.apps.payments;
    const out = await engine.reconcile({ vaultName: vault(), certificateName: app.certificate });
    expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    const verified = audit.events.find((e) => e.action === "verify" && e.outcome === "succeeded")!;
    const attempts = Number(/after (\d+) attempt/.exec(verified.message ?? "")?.[1]);
    expect(attempts).toBeGreaterThan(1);
    expect(ctx.signIns.entries().some((e) => !e.success && e.errorCode === 700027)).toBe(true);
  });
});
