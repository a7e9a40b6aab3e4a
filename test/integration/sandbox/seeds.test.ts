import { describe, expect, it } from "vitest";
import { DEMO, SCALE_BOUND_APPS, scaleObjectId, seedTenant } from "../../../sandbox/seeds.js";
import { useSandbox } from "../../helpers/sandbox.js";

const DAY_S = 86_400;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

describe("seeds", () => {
  const sb = useSandbox({ seed: "demo" });

  describe("demo", () => {
    it("binds near-expiry Key Vault certificates to applications whose key is that certificate", () => {
      const { ctx } = sb();
      const home = ctx.urls.tenantId;
      const now = ctx.clock.nowSeconds();
      for (const app of [DEMO.apps.payments, DEMO.apps.orders, DEMO.apps.reporting]) {
        const cert = ctx.vault.latest(app.certificate);
        expect(cert, app.certificate).toBeDefined();
        expect(cert!.tags["rollover-target"]).toBe(app.id);
        expect(cert!.tags["rollover-target-type"]).toBe("application");
        expect(Math.round((cert!.expires - now) / DAY_S)).toBe(app.expiresInDays);
        const obj = ctx.directory.get(home, app.id)!;
        expect(obj.displayName).toBe(app.displayName);
        expect(obj.keyCredentials.map((k) => hex(k.key))).toContain(hex(cert!.cerDer));
      }
      expect(ctx.vault.latest(DEMO.apps.reporting.certificate)!.tags["rollover-mode"]).toBe("managed");
      expect(ctx.vault.latest(DEMO.apps.orders.certificate)!.tags["rollover-mode"]).toBe("self");
    });

    it("grants Rollover's identity exactly what a managed-mode deployment grants, ownership of one app, and says managed mode in its env", () => {
      const { ctx, env } = sb();
      const home = ctx.urls.tenantId;
      const mi = ctx.directory.get(home, ctx.managedIdentity.objectId)!;
      expect(mi.kind).toBe("managedIdentity");
      // docs/permissions.md: Application.Read.All always; OwnedBy only with managedMode on; and the
      // two optional read-only grants ("Optional grants"), so the demo shows the insight findings.
      expect([...mi.appRoles].sort()).toEqual([
        "Application.Read.All",
        "Application.ReadWrite.OwnedBy",
        "AuditLog.Read.All",
        "Policy.Read.All",
      ]);
      expect(env.ROLLOVER_MANAGED_MODE).toBe("true");
      // The blueprint's own principal may roll the blueprint's key (no permission-free self-roll).
      const bpPrincipal = ctx.directory.findByAppId(home, DEMO.blueprint.appId, "servicePrincipal")!;
      expect(bpPrincipal.appRoles).toEqual(["AgentIdentityBlueprint.AddRemoveCreds.All"]);
      // A bound key whose customKeyIdentifier is a label, not its thumbprint.
      const payments = ctx.directory.get(home, DEMO.apps.payments.id)!.keyCredentials[0]!;
      expect(Buffer.from(payments.customKeyIdentifier, "base64").toString("utf8")).toBe(
        "payments-api 2025 cert",
      );
      const owned = ["payments", "orders", "reporting", "legacy", "marketing"].filter((k) =>
        ctx.directory
          .get(home, DEMO.apps[k as keyof typeof DEMO.apps].id)!
          .owners.includes(ctx.managedIdentity.objectId),
      );
      expect(owned).toEqual(["reporting"]);
      expect(ctx.directory.get(home, DEMO.apps.reporting.id)!.owners).toContain(ctx.managedIdentity.objectId);
      expect(ctx.directory.get(home, DEMO.apps.legacy.id)!.owners).not.toContain(
        ctx.managedIdentity.objectId,
      );
    });

    it("has an orphaned key, an expired secret and an over-long-lived secret", () => {
      const { ctx } = sb();
      const home = ctx.urls.tenantId;
      const now = ctx.clock.now();
      const legacy = ctx.directory.get(home, DEMO.apps.legacy.id)!;
      const orphan = legacy.keyCredentials.find((k) => k.keyId === DEMO.apps.legacy.orphanKeyId)!;
      expect(orphan).toBeDefined();
      const vaultDers = ctx.vault
        .certificateNames()
        .flatMap((n) => ctx.vault.versions(n))
        .map((v) => hex(v.cerDer));
      expect(vaultDers).not.toContain(hex(orphan.key));
      const expired = legacy.passwordCredentials.find(
        (p) => p.keyId === DEMO.apps.legacy.expiredSecretKeyId,
      )!;
      expect(Date.parse(expired.endDateTime)).toBeLessThan(now);
      const long = ctx.directory
        .get(home, DEMO.apps.marketing.id)!
        .passwordCredentials.find((p) => p.keyId === DEMO.apps.marketing.longSecretKeyId)!;
      expect(Date.parse(long.endDateTime) - Date.parse(long.startDateTime)).toBeGreaterThan(
        2 * 365 * DAY_S * 1000,
      );
    });

    it("has an agent identity blueprint with its principal, two agent identities and a bound certificate", () => {
      const { ctx } = sb();
      const home = ctx.urls.tenantId;
      const bp = ctx.directory.get(home, DEMO.blueprint.id)!;
      expect(bp.kind).toBe("agentIdentityBlueprint");
      const principal = ctx.directory.findByAppId(home, DEMO.blueprint.appId, "servicePrincipal");
      expect(principal?.kind).toBe("agentIdentityBlueprintPrincipal");
      for (const agent of DEMO.blueprint.agentIdentities) {
        const a = ctx.directory.get(home, agent.id)!;
        expect(a.kind).toBe("agentIdentity");
        expect(a.appId).toBe(agent.id);
        expect(a.blueprintAppId).toBe(DEMO.blueprint.appId);
        expect(a.keyCredentials).toHaveLength(0);
      }
      const cert = ctx.vault.latest(DEMO.blueprint.certificate)!;
      expect(cert.tags).toMatchObject({
        "rollover-target": DEMO.blueprint.id,
        "rollover-target-type": "agentIdentityBlueprint",
      });
      expect(bp.keyCredentials.map((k) => hex(k.key))).toContain(hex(cert.cerDer));
    });

    it("has a second tenant with one application bound from the home vault", () => {
      const { ctx } = sb();
      expect(ctx.directory.tenantIds()).toContain(DEMO.secondTenantId);
      const partner = ctx.directory.get(DEMO.secondTenantId, DEMO.partner.id)!;
      expect(partner.displayName).toBe(DEMO.partner.displayName);
      const cert = ctx.vault.latest(DEMO.partner.certificate)!;
      expect(cert.tags["rollover-tenant"]).toBe(DEMO.secondTenantId);
      expect(partner.keyCredentials.map((k) => hex(k.key))).toContain(hex(cert.cerDer));
      expect(ctx.directory.get(ctx.urls.tenantId, DEMO.partner.id)).toBeUndefined();
    });

    it("reseeds to the same tenant", async () => {
      const { ctx } = sb();
      const before = ctx.directory.count(ctx.urls.tenantId);
      const certs = ctx.vault.certificateNames().sort();
      await seedTenant(ctx, "demo");
      expect(ctx.directory.count(ctx.urls.tenantId)).toBe(before);
      expect(ctx.vault.certificateNames().sort()).toEqual(certs);
    });
  });

  describe("empty", () => {
    it("leaves only Rollover's managed identity", async () => {
      const { ctx } = sb();
      await seedTenant(ctx, "empty");
      expect(ctx.directory.count(ctx.urls.tenantId)).toBe(1);
      expect(ctx.directory.get(ctx.urls.tenantId, ctx.managedIdentity.objectId)?.kind).toBe(
        "managedIdentity",
      );
      expect(ctx.vault.certificateNames()).toEqual([]);
      expect(ctx.directory.tenantIds()).toEqual([ctx.urls.tenantId]);
    });
  });

  describe("scale", () => {
    // 10,000 applications: the mix and the bound certificates are the same at every size; seeding
    // of 100,000 and 1,000,000 applications is measured by the benchmark (npm run bench).
    it("seeds scale:10000 with a realistic mix and a few bound certificates", async () => {
      const { ctx } = sb();
      const home = ctx.urls.tenantId;
      const started = Date.now();
      await seedTenant(ctx, "scale:10000");
      const elapsed = Date.now() - started;
      console.log(`scale:10000 seeded in ${elapsed} ms`);

      // 10,000 applications, each with its service principal, plus Rollover's identity.
      expect(ctx.directory.count(home)).toBe(20_001);
      expect(ctx.vault.certificateNames()).toHaveLength(SCALE_BOUND_APPS);
      const bound = ctx.vault.latest("scale-bound-1")!;
      expect(bound.tags["rollover-target"]).toBe(scaleObjectId(0));
      expect(ctx.directory.get(home, scaleObjectId(0))!.keyCredentials.map((k) => hex(k.key))).toContain(
        hex(bound.cerDer),
      );

      let keys = 0;
      let secrets = 0;
      let expiredKeys = 0;
      let expiredSecrets = 0;
      let empty = 0;
      const now = ctx.clock.now();
      for (let i = 0; i < 10_000; i += 7) {
        const app = ctx.directory.get(home, scaleObjectId(i))!;
        keys += app.keyCredentials.length;
        secrets += app.passwordCredentials.length;
        expiredKeys += app.keyCredentials.filter((k) => Date.parse(k.endDateTime) < now).length;
        expiredSecrets += app.passwordCredentials.filter((p) => Date.parse(p.endDateTime) < now).length;
        if (app.keyCredentials.length + app.passwordCredentials.length === 0) empty++;
      }
      expect(keys).toBeGreaterThan(0);
      expect(secrets).toBeGreaterThan(0);
      expect(expiredKeys).toBeGreaterThan(0);
      expect(expiredSecrets).toBeGreaterThan(0);
      expect(empty).toBeGreaterThan(0);
      // Few applications have no credential at all: under a fifth of those sampled.
      expect(empty).toBeLessThan(Math.ceil(10_000 / 7) / 5);
    });
  });
});
