import { describe, expect, it } from "vitest";
import { DEMO } from "../../../sandbox/seeds.js";
import { STATE_TABLE, StateStore, tableClient } from "../../../shared/azure/storage.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;

describe("rotation engine: managed mode, blueprints, locking, lost state", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });
  const vaultName = () => {
    const u = new URL(sb().urls.vaultUrl);
    return `${u.hostname}:${u.port}`;
  };

  it("managed mode recovers a target whose only certificate expired (PATCH as the owner, read back)", async () => {
    const { engine } = makeEngine(sb(), { settings: { ROLLOVER_MANAGED_MODE: "true" } });
    const { ctx, urls } = sb();
    const app = DEMO.apps.reporting;
    const out = await engine.reconcile({ vaultName: vaultName(), certificateName: app.certificate });
    expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    expect(out.steps[1]).toMatchObject({ kind: "attach", mode: "managed" });
    const t = ctx.directory.get(urls.tenantId, app.id)!;
    expect(t.keyCredentials).toHaveLength(2);
    await ctx.clock.advance(73 * HOUR);
    const last = await engine.reconcile({ vaultName: vaultName(), certificateName: app.certificate });
    expect(last.steps.map((s) => s.kind)).toEqual(["retire", "none"]);
    // The expired key went; the new one is the target's only key, and it works.
    const after = ctx.directory.get(urls.tenantId, app.id)!;
    expect(after.keyCredentials).toHaveLength(1);
    const latest = ctx.vault.latest(app.certificate)!;
    expect(Buffer.from(after.keyCredentials[0]!.key).equals(Buffer.from(latest.cerDer))).toBe(true);
  });

  it("agent identity blueprint: self mode on the type-cast path", async () => {
    const { engine } = makeEngine(sb());
    const { ctx, urls } = sb();
    const bp = DEMO.blueprint;
    const out = await engine.reconcile({ vaultName: vaultName(), certificateName: bp.certificate });
    expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    expect(out.steps[1]).toMatchObject({ kind: "attach", mode: "self" });
    expect(ctx.directory.get(urls.tenantId, bp.id)!.keyCredentials).toHaveLength(2);
    const signIns = ctx.signIns.entries().filter((e) => e.clientId === bp.appId && e.success);
    expect(signIns.map((e) => e.credential)).toContain(ctx.vault.latest(bp.certificate)!.thumbprintHex);
  });

  it("agent identity blueprint with no valid key: refused (managed mode cannot change blueprints), no Graph write sent", async () => {
    const { engine, audit } = makeEngine(sb(), { settings: { ROLLOVER_MANAGED_MODE: "true" } });
    const { ctx, urls } = sb();
    const t = urls.tenantId;
    const bp = ctx.directory.createApplication(t, {
      displayName: "managed-blueprint",
      kind: "agentIdentityBlueprint",
    });
    // Owned by Rollover's identity, which holds Application.ReadWrite.OwnedBy: that does not cover
    // blueprints (agentidentityblueprint-update permissions list only AgentIdentityBlueprint.*).
    ctx.directory.addOwner(t, bp.id, ctx.managedIdentity.objectId);
    const now = ctx.clock.now();
    const v1 = await ctx.vault.createCertificate("managed-blueprint", {
      tags: {
        "rollover-target": bp.id,
        "rollover-target-type": "agentIdentityBlueprint",
        "rollover-mode": "managed",
      },
      notBefore: Math.floor((now - 400 * 86_400_000) / 1000),
      expires: Math.floor((now - 2 * 86_400_000) / 1000),
    });
    ctx.directory.addKeyCredential(t, bp.id, { certificateDer: v1.cerDer });
    const ref = { vaultName: vaultName(), certificateName: "managed-blueprint" };
    const out = await engine.reconcile(ref);
    expect(out.steps.map((s) => s.kind)).toEqual(["renew", "refuse"]);
    expect(out.reason).toBe("NoSigningKey");
    expect(out.message).toMatch(/AgentIdentityBlueprint\.AddRemoveCreds\.All/);
    const keys = ctx.directory.get(t, bp.id)!.keyCredentials;
    expect(keys).toHaveLength(1);
    expect(Buffer.from(keys[0]!.key).equals(Buffer.from(v1.cerDer))).toBe(true);
    expect(audit.events.filter((e) => e.certificateName === "managed-blueprint").at(-1)).toMatchObject({
      action: "refuse",
      outcome: "failed",
      reason: "NoSigningKey",
    });
  });

  it("agent identity blueprint whose principal lacks AgentIdentityBlueprint.AddRemoveCreds.All: attach is refused by Graph (403), audited with the grant it needs", async () => {
    const { engine, audit } = makeEngine(sb());
    const { ctx, urls } = sb();
    const t = urls.tenantId;
    const bp = ctx.directory.createApplication(t, {
      displayName: "ungranted-blueprint",
      kind: "agentIdentityBlueprint",
    });
    const now = ctx.clock.now();
    const v1 = await ctx.vault.createCertificate("ungranted-blueprint", {
      tags: { "rollover-target": bp.id, "rollover-target-type": "agentIdentityBlueprint" },
      notBefore: Math.floor((now - 340 * 86_400_000) / 1000),
      expires: Math.floor((now + 20 * 86_400_000) / 1000),
    });
    ctx.directory.addKeyCredential(t, bp.id, { certificateDer: v1.cerDer });
    const out = await engine.reconcile({ vaultName: vaultName(), certificateName: "ungranted-blueprint" });
    expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach"]);
    expect(out.result).toBe("failed");
    expect(out.message).toMatch(
      // The service's own message (errorSummary keeps it), then the grant that fixes it.
      /^HTTP 403 Authorization_RequestDenied: [^;]+; grant the blueprint's principal AgentIdentityBlueprint\.AddRemoveCreds\.All/,
    );
    expect(ctx.directory.get(t, bp.id)!.keyCredentials).toHaveLength(1);
    expect(audit.events.filter((e) => e.certificateName === "ungranted-blueprint").at(-1)).toMatchObject({
      action: "attach",
      outcome: "failed",
    });
  });

  it("a certificate Key Vault cannot renew alone (Unknown issuer) is refused with an alert-worthy record; nothing changes", async () => {
    const { engine, audit } = makeEngine(sb());
    const { ctx, urls } = sb();
    const t = urls.tenantId;
    const app = ctx.directory.createApplication(t, { displayName: "csr-merge-app" });
    const now = ctx.clock.now();
    const v1 = await ctx.vault.createCertificate("csr-merge", {
      policy: { issuerName: "Unknown" },
      tags: { "rollover-target": app.id },
      notBefore: Math.floor((now - 340 * 86_400_000) / 1000),
      expires: Math.floor((now + 20 * 86_400_000) / 1000),
    });
    ctx.directory.addKeyCredential(t, app.id, { certificateDer: v1.cerDer });
    const out = await engine.reconcile({ vaultName: vaultName(), certificateName: "csr-merge" });
    expect(out.result).toBe("refused");
    expect(out.reason).toBe("RenewalNotSupported");
    expect(ctx.vault.versions("csr-merge")).toHaveLength(1);
    expect(ctx.directory.get(t, app.id)!.keyCredentials).toHaveLength(1);
    expect(audit.events.find((e) => e.certificateName === "csr-merge")).toMatchObject({
      action: "refuse",
      outcome: "failed",
      reason: "RenewalNotSupported",
    });
  });

  it("a target in another tenant: read and rotated as itself (self mode), verified in its tenant", async () => {
    const { engine } = makeEngine(sb(), { settings: { ROLLOVER_MANAGED_MODE: "true" } });
    const { ctx } = sb();
    const p = DEMO.partner;
    const out = await engine.reconcile({ vaultName: vaultName(), certificateName: p.certificate });
    expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
    expect(out.steps[1]).toMatchObject({ kind: "attach", mode: "self" });
    expect(ctx.directory.get(DEMO.secondTenantId, p.id)!.keyCredentials).toHaveLength(2);
    const newThumb = ctx.vault.latest(p.certificate)!.thumbprintHex;
    const signIn = ctx.signIns
      .entries()
      .find((e) => e.clientId === p.appId && e.credential === newThumb && e.success);
    expect(signIn?.tenantId).toBe(DEMO.secondTenantId);
  });

  it("two runs on one binding at once: one renewal; the loser reports locked and changes nothing", async () => {
    const a = makeEngine(sb());
    const b = makeEngine(sb());
    const { ctx } = sb();
    const app = DEMO.apps.orders;
    // Bring orders-worker into its renewal window.
    await ctx.clock.advance(20 * 24 * HOUR);
    const versionsBefore = ctx.vault.versions(app.certificate).length;
    const [x, y] = await Promise.all([
      a.engine.reconcile({ vaultName: vaultName(), certificateName: app.certificate }),
      b.engine.reconcile({ vaultName: vaultName(), certificateName: app.certificate }),
    ]);
    const results = [x.result, y.result].sort();
    expect(results).toContain("locked");
    const loser = x.result === "locked" ? x : y;
    expect(loser.steps).toEqual([]);
    expect(ctx.vault.versions(app.certificate).length).toBe(versionsBefore + 1);
  });

  it("a lost state record is rebuilt from Key Vault and Graph: the new key is verified again, nothing is renewed twice", async () => {
    const { engine, deps } = makeEngine(sb());
    const { ctx } = sb();
    const app = DEMO.apps.orders;
    const versions = ctx.vault.versions(app.certificate).length;
    const store = new StateStore(
      tableClient({ connectionString: sb().env.AzureWebJobsStorage }, STATE_TABLE),
    );
    await store.delete(vaultName(), app.certificate);
    expect(await deps.state.get(vaultName(), app.certificate)).toBeUndefined();
    const out = await engine.reconcile({ vaultName: vaultName(), certificateName: app.certificate });
    expect(out.steps[0]?.kind).toBe("verify");
    expect(ctx.vault.versions(app.certificate).length).toBe(versions);
    const rebuilt = await deps.state.get(vaultName(), app.certificate);
    expect(rebuilt?.verifiedVersion).toBe(ctx.vault.latest(app.certificate)!.version);
  });
});
