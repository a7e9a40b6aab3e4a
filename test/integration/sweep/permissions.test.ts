/**
 * The sweep in remove mode against the sandbox, with the grants every deployment has and no more
 * (docs/permissions.md): Rollover's identity holds Application.Read.All only. Graph writes are
 * counted at the sandbox. Managed mode (Application.ReadWrite.OwnedBy and ownership) is in
 * managed.test.ts.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { STATE_TABLE, StateStore, tableClient } from "../../../shared/azure/storage.js";
import { Reason } from "../../../shared/core/reasons.js";
import { makeCert } from "../../helpers/certs.js";
import { makeEngine, sandboxVaultName, seedDueBinding } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";
import {
  appWithExpiredSecret,
  DAY,
  expiredCert,
  freshTenant,
  graphWrites,
  HOUR,
  keyIds,
  sweep,
} from "./helpers.js";

const sb = useSandbox({ seed: "empty", azurite: true });

beforeEach(() => freshTenant(sb()));

describe("the sweep removes only what it should, with the permission it holds", () => {
  it("keeps a valid key a person added to a bound app (whatever its identifier or name) and a key of a binding with malformed tags, past the grace window", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const { app } = await seedDueBinding(h, "bound-app", { expiresInDays: 200 });
    const breakGlass = await makeCert({ subject: "CN=break-glass" });
    const spoof = await makeCert({ subject: "CN=spoof" });
    // A custom identifier (Graph lets callers set it to anything) and a forged rollover: marker.
    h.ctx.directory.addKeyCredential(t, app.id, {
      certificateDer: breakGlass.der,
      displayName: "break-glass",
      customKeyIdentifier: Buffer.from("break-glass-2026").toString("base64"),
    });
    h.ctx.directory.addKeyCredential(t, app.id, {
      certificateDer: spoof.der,
      displayName: `rollover:${sandboxVaultName(h)}/bound-app/0000`,
    });
    // A second certificate for the same app whose tags are malformed: its key is not the
    // sweep's to judge.
    const invalid = await h.ctx.vault.createCertificate("bound-app-typo", {
      tags: { "rollover-target": app.id, "rollover-target-type": "aplication" },
    });
    h.ctx.directory.addKeyCredential(t, app.id, { certificateDer: invalid.cerDer, displayName: "typo" });
    const before = keyIds(h, app.id);
    const first = await sweep(h);
    await h.ctx.clock.advance(30 * DAY);
    h.requestCounts.reset();
    const { s, audit } = await sweep(h);
    expect(first.s.findings[Reason.KeyUnmanaged]).toBe(3);
    expect(s.findings[Reason.KeyUnmanaged]).toBe(3);
    expect(s.findings[Reason.KeyOrphaned] ?? 0).toBe(0);
    expect(s.removed).toBe(0);
    expect(graphWrites(h)).toBe(0);
    expect(keyIds(h, app.id)).toEqual(before);
    expect(
      audit.events
        .filter((e) => e.reason === Reason.KeyUnmanaged)
        .every((e) => /never removed/.test(e.message)),
    ).toBe(true);
  });

  it("removes a key Rollover attached and no version backs any more: on record and marked", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const { app, ref } = await seedDueBinding(h, "rotated-app");
    // The engine records what it attaches.
    const { engine, deps } = makeEngine(h);
    await engine.reconcile(ref);
    const state = await deps.state.get(ref.vaultName, ref.certificateName);
    const newest = h.ctx.vault.latest("rotated-app")!;
    expect(state?.attached).toContain(newest.thumbprintHex);
    // A key it attached earlier, whose Key Vault version is gone (deleted by a person).
    const gone = await makeCert({ subject: "CN=gone-version" });
    h.ctx.directory.addKeyCredential(t, app.id, {
      certificateDer: gone.der,
      displayName: `rollover:${ref.vaultName}/${ref.certificateName}/gone`,
    });
    await new StateStore(tableClient({ connectionString: h.env.AzureWebJobsStorage }, STATE_TABLE)).put(
      ref.vaultName,
      ref.certificateName,
      { ...state!, attached: [...state!.attached!, gone.sha1Hex.toUpperCase()] },
      "active",
    );
    const first = await sweep(h);
    expect(first.s.findings[Reason.KeyOrphaned]).toBe(1);
    expect(first.s.removed).toBe(0); // first seen in this run
    await h.ctx.clock.advance(2 * HOUR);
    const { s } = await sweep(h);
    expect(s.removed).toBe(1);
    expect(s.paths.removeKey).toBe(1);
    expect(h.ctx.directory.get(t, app.id)!.keyCredentials.some((k) => k.displayName?.endsWith("/gone"))).toBe(
      false,
    );
  });

  it("reports an expired secret on an app Rollover may not change as RemovalNotPermitted, and sends no write", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const { app, expired } = appWithExpiredSecret(h, "not-ours");
    await sweep(h);
    await h.ctx.clock.advance(2 * HOUR);
    h.requestCounts.reset();
    const { s, audit } = await sweep(h);
    expect(h.requestCounts.get().graph ?? 0).toBeGreaterThan(0);
    expect(graphWrites(h)).toBe(0);
    expect(s.removed).toBe(0);
    expect(s.held[Reason.RemovalNotPermitted]).toBe(1);
    const held = audit.events.find((e) => e.reason === Reason.RemovalNotPermitted)!;
    expect(held.keyId).toBe(expired.keyId);
    expect(held.message).toMatch(/managed mode \(ROLLOVER_MANAGED_MODE/);
    expect(h.ctx.directory.get(t, app.id)!.passwordCredentials).toHaveLength(2);
  });

  it("removes an expired key on a bound self-mode target with removeKey, holding no Graph write permission", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const { app } = await seedDueBinding(h, "self-app", { expiresInDays: 200 });
    const old = await expiredCert();
    const kc = h.ctx.directory.addKeyCredential(t, app.id, { certificateDer: old.der, displayName: "old" });
    const first = await sweep(h);
    expect(first.s.removed).toBe(0);
    expect(first.s.held[Reason.GuardGraceWindow]).toBe(1);
    await h.ctx.clock.advance(2 * HOUR);
    h.requestCounts.reset();
    const { s, audit } = await sweep(h);
    expect(s.removed).toBe(1);
    expect(s.paths).toEqual({ removeKey: 1 });
    expect(graphWrites(h)).toBe(1);
    expect(keyIds(h, app.id)).not.toContain(kc.keyId);
    expect(keyIds(h, app.id)).toHaveLength(1);
    const done = audit.events.find((e) => e.action === "sweepRemoval" && e.outcome === "succeeded")!;
    expect(done.message).toMatch(/removeKey as the target/);
  });
});
