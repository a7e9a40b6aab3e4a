/**
 * Insight findings against the sandbox's demo tenant, read with the real Graph SDK: sign-in
 * activity (AuditLog.Read.All), app management policies (Policy.Read.All) and app role
 * assignments (Application.Read.All); with and without the optional permissions. And the
 * renew-time refusal when Graph would reject the certificate Key Vault is about to issue.
 */
import { ClientSecretCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { DEMO, DEMO_INSIGHT } from "../../../sandbox/seeds.js";
import type { SandboxHandle } from "../../../sandbox/index.js";
import { keyLifetimeLimitReader, insightReaders } from "../../../shared/app.js";
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { GraphEdge } from "../../../shared/azure/graph.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { loadConfig } from "../../../shared/config.js";
import { policiesFrom } from "../../../shared/core/plan.js";
import { Reason } from "../../../shared/core/reasons.js";
import { runSweep } from "../../../shared/sweep/run.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const DAY = 86_400_000;

/** A principal holding `roles`, signing in with a client secret (each test picks its permissions). */
function principal(h: SandboxHandle, name: string, roles: readonly string[]) {
  const t = h.urls.tenantId;
  const app = h.ctx.directory.createApplication(t, { displayName: name });
  const sp = h.ctx.directory.findByAppId(t, app.appId, "servicePrincipal");
  if (!sp) throw new Error("no service principal");
  for (const r of roles) h.ctx.directory.grantAppRole(t, sp.id, r);
  const pw = h.ctx.directory.addPasswordCredential(t, app.id, {
    endDateTime: new Date(h.ctx.clock.now() + 30 * DAY).toISOString(),
  });
  const credential = new ClientSecretCredential(t, app.appId, pw.secretText, {
    authorityHost: h.urls.authorityHost,
    disableInstanceDiscovery: true,
  });
  return { app, sp, credential };
}

function sweepDeps(
  h: SandboxHandle,
  who: ReturnType<typeof principal>,
  settings: Record<string, string> = {},
) {
  const config = loadConfig({ ...h.env, ...settings });
  const graph = new GraphEdge(config.graphBaseUrl);
  const client = graph.client(who.credential);
  const audit = new MemoryAuditSink();
  const policies = policiesFrom(config);
  const r = { config, policies } as unknown as Parameters<typeof insightReaders>[0];
  return {
    audit,
    deps: {
      graph,
      client,
      tenantId: h.urls.tenantId,
      vaults: [new VaultEdge(h.urls.vaultUrl, who.credential)],
      selfIds: [who.sp.id, who.app.appId, h.ctx.managedIdentity.objectId, h.ctx.managedIdentity.clientId],
      policy: policies.sweep,
      audit,
      now: () => h.ctx.clock.now(),
      dryRun: false,
      insight: insightReaders(r, client),
    },
  };
}

/** Findings of the sweep as [reason, target display name, keyId]. */
function findings(audit: MemoryAuditSink) {
  return audit.events
    .filter((e) => e.action === "sweepFinding")
    .map((e) => [e.reason, e.targetDisplayName ?? "", e.keyId ?? ""] as const);
}

const I = DEMO_INSIGHT;

const sb = useSandbox({ seed: "demo", azurite: true });
const ALL = ["Application.Read.All", "AuditLog.Read.All", "Policy.Read.All"];

describe("insight with the optional permissions (demo seed)", () => {
  it("reports unused, never-used, powerful and policy-restricted credentials, powerful first", async () => {
    const h = sb();
    const { deps, audit } = sweepDeps(h, principal(h, "reader-all", ALL));
    const s = await runSweep(deps);
    const f = findings(audit);
    expect(f).toContainEqual([Reason.CredentialUnused, I.billing.displayName, I.billing.unusedSecretKeyId]);
    expect(
      f.filter(([r, name]) => r === Reason.CredentialNeverUsed && name === I.inventory.displayName),
    ).toHaveLength(1);
    expect(f).toContainEqual([
      Reason.HighPrivilegeCredential,
      I.directorySync.displayName,
      I.directorySync.secretKeyId,
    ]);
    // The tenant default allows secrets 180 days; directory-sync's own policy allows none.
    expect(f).toContainEqual([
      Reason.SecretRestrictedByPolicy,
      DEMO.apps.marketing.displayName,
      DEMO.apps.marketing.longSecretKeyId,
    ]);
    expect(f).toContainEqual([
      Reason.SecretRestrictedByPolicy,
      I.directorySync.displayName,
      I.directorySync.secretKeyId,
    ]);
    // directory-sync signed in today: used. legacy-portal's valid secret is 180 days: allowed.
    expect(f.some(([r, name]) => r === Reason.CredentialUnused && name === I.directorySync.displayName)).toBe(
      false,
    );
    expect(f).not.toContainEqual([
      Reason.SecretRestrictedByPolicy,
      DEMO.apps.legacy.displayName,
      DEMO.apps.legacy.validSecretKeyId,
    ]);
    expect(s.findings[Reason.SignInDataUnavailable]).toBeUndefined();
    expect(s.findings[Reason.PolicyDataUnavailable]).toBeUndefined();
    // HighPrivilegeCredential comes first among the findings of its page.
    const first = audit.events.find((e) => e.action === "sweepFinding");
    expect(first?.reason).toBe(Reason.HighPrivilegeCredential);
  });
});

describe("insight without the optional permissions", () => {
  it("one SignInDataUnavailable and one PolicyDataUnavailable per run, no error; privileges still read", async () => {
    const h = sb();
    const { deps, audit } = sweepDeps(h, principal(h, "reader-basic", ["Application.Read.All"]));
    const s = await runSweep(deps);
    expect(s.findings[Reason.SignInDataUnavailable]).toBe(1);
    expect(s.findings[Reason.PolicyDataUnavailable]).toBe(1);
    const f = findings(audit);
    expect(f.some(([r]) => r === Reason.CredentialUnused || r === Reason.CredentialNeverUsed)).toBe(false);
    expect(f.some(([r]) => r === Reason.SecretRestrictedByPolicy)).toBe(false);
    expect(f).toContainEqual([
      Reason.HighPrivilegeCredential,
      I.directorySync.displayName,
      I.directorySync.secretKeyId,
    ]);
    const unavailable = audit.events.find((e) => e.reason === Reason.SignInDataUnavailable);
    expect(unavailable?.message).toMatch(/AuditLog\.Read\.All/);
  });
});

describe("renewal refused when the app management policy would refuse the new certificate", () => {
  it("with Policy.Read.All: PolicyWouldRefuse before renew, naming the allowed maximum; nothing issued", async () => {
    const h = sb();
    const reader = principal(h, "policy-reader", ALL);
    const graph = new GraphEdge(h.urls.graphBaseUrl);
    const before = h.ctx.vault.versions(I.inventory.certificate).length;
    const { engine, vault } = makeEngine(h, {
      keyLifetimeLimit: keyLifetimeLimitReader(graph.client(reader.credential)),
    });
    const out = await engine.reconcile({
      vaultName: vault.name,
      certificateName: I.inventory.certificate,
    });
    expect(out.result, out.message).toBe("refused");
    expect(out.reason).toBe(Reason.PolicyWouldRefuse);
    expect(out.message).toMatch(/24 months.*at most 397 days/);
    expect(h.ctx.vault.versions(I.inventory.certificate)).toHaveLength(before);
    // The bindings within the policy renew as before.
    const ok = await engine.reconcile({
      vaultName: vault.name,
      certificateName: DEMO.apps.payments.certificate,
    });
    expect(ok.steps.map((s) => s.kind)).toContain("renew");
  });

  it("without Policy.Read.All: Rollover renews, and Graph refuses the key at addKey as the policy says", async () => {
    const h = sb();
    const reader = principal(h, "no-policy-reader", ["Application.Read.All"]);
    const graph = new GraphEdge(h.urls.graphBaseUrl);
    const { engine, audit, vault } = makeEngine(h, {
      keyLifetimeLimit: keyLifetimeLimitReader(graph.client(reader.credential)),
    });
    const out = await engine.reconcile({
      vaultName: vault.name,
      certificateName: I.inventory.certificate,
    });
    expect(out.steps.map((s) => s.kind)).toContain("renew");
    expect(out.result).toBe("failed");
    expect(audit.events.map((e) => e.message).join("\n")).toMatch(
      /CredentialInvalidLifetimeAsPerAppPolicy|lifetime exceeds/,
    );
  });
});
