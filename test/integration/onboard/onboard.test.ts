/**
 * `rollover bind`, `unbind` and `migrate-secret` against the sandbox, run through the command's
 * own entry point (`main`) as a person would: the sandbox's settings and its operator's sign-in
 * (`operator.env`, picked up by DefaultAzureCredential), real SDK clients, Azurite for state.
 */
import { ClientSecretCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../../cli/main.js";
import { DIRECTORY_ROLES } from "../../../sandbox/entra/operator.js";
import { addPartnerApplication, DEMO, DEMO_ONBOARDING } from "../../../sandbox/seeds.js";
import { certificateCredential } from "../../../shared/azure/entra.js";
import { VaultEdge, vaultClientOptions } from "../../../shared/azure/keyvault.js";
import { STATE_TABLE, StateStore, tableClient } from "../../../shared/azure/storage.js";
import { makeEngine } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;

describe("joining and leaving Rollover", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });
  let stderr: string[] = [];
  let stdout: string[] = [];

  beforeAll(() => {
    // The person's shell: the sandbox's settings with the operator's sign-in laid over them.
    Object.assign(process.env, sb().env, sb().operatorEnv);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function rollover(...args: string[]): Promise<number> {
    stderr = [];
    stdout = [];
    vi.spyOn(process.stderr, "write").mockImplementation((t) => {
      stderr.push(String(t));
      return true;
    });
    vi.spyOn(process.stdout, "write").mockImplementation((t) => {
      stdout.push(String(t));
      return true;
    });
    process.exitCode = undefined;
    try {
      return await main(args);
    } finally {
      vi.restoreAllMocks();
      process.exitCode = undefined;
    }
  }

  const operatorCredential = () =>
    new ClientSecretCredential(
      sb().urls.tenantId,
      sb().operatorEnv.AZURE_CLIENT_ID!,
      sb().operatorEnv.AZURE_CLIENT_SECRET!,
      {
        authorityHost: sb().urls.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
  const vaultEdge = () => new VaultEdge(sb().urls.vaultUrl, operatorCredential());
  const app = (id: string) => sb().ctx.directory.get(sb().urls.tenantId, id)!;
  const auditRecords = () =>
    sb()
      .ctx.logs.records()
      .map((r) => r.record);
  /** What a bad input must leave alone: the vault's versions and every object's credentials. */
  const fingerprint = () =>
    JSON.stringify({
      certs: sb()
        .ctx.vault.certificateNames()
        .map((n) => [n, sb().ctx.vault.versions(n).length]),
      keys: [DEMO_ONBOARDING.unbound.id, DEMO_ONBOARDING.secretUser.id].map(
        (id) => app(id).keyCredentials.length,
      ),
    });

  /** Signs in as the application with the newest version of a certificate, its key used in Key Vault. */
  async function signInWithCertificate(appId: string, name: string): Promise<string> {
    const v = vaultEdge();
    const obs = await v.observe(name);
    const newest = obs!.versions.sort((a, b) => b.created - a.created)[0]!;
    const m = await v.material(name, newest.version);
    const cred = certificateCredential({
      authorityHost: sb().urls.authorityHost,
      tenantId: sb().urls.tenantId,
      clientId: appId,
      certificate: m,
      sign: v.signer(m.kid),
      now: () => sb().ctx.clock.now(),
    });
    const t = await cred.getToken("https://graph.microsoft.com/.default");
    return t?.token ?? "";
  }

  it("bind without --yes says what it would do and changes nothing", async () => {
    const before = fingerprint();
    expect(await rollover("bind", DEMO_ONBOARDING.unbound.displayName)).toBe(0);
    expect(stdout.join("")).toMatch(/non-exportable key/);
    expect(stdout.join("")).toMatch(/Nothing was changed/);
    expect(fingerprint()).toBe(before);
  });

  it("bind --yes on an unbound application: a non-exportable, tagged certificate whose key is on the target and signs in", async () => {
    const { unbound } = DEMO_ONBOARDING;
    expect(await rollover("bind", unbound.displayName, "--yes"), stderr.join("")).toBe(0);
    const latest = sb().ctx.vault.latest(unbound.displayName)!;
    expect(latest.tags).toEqual({ "rollover-target": unbound.id, "rollover-target-type": "application" });
    const policy = await new CertificateClient(
      sb().urls.vaultUrl,
      operatorCredential(),
      vaultClientOptions(sb().urls.vaultUrl),
    ).getCertificatePolicy(unbound.displayName);
    expect(policy.exportable).toBe(false);
    expect(policy.lifetimeActions?.map((a) => a.action)).toEqual(["EmailContacts"]);
    expect(app(unbound.id).keyCredentials.map((k) => Buffer.from(k.key).toString("base64"))).toEqual([
      Buffer.from(latest.cerDer).toString("base64"),
    ]);
    expect(await signInWithCertificate(unbound.appId, unbound.displayName)).toBeTruthy();
    // The version counts as issued by Rollover (its certificate operation recorded), and verified.
    const state = await new StateStore(
      tableClient({ connectionString: sb().env.AzureWebJobsStorage }, STATE_TABLE),
    ).get(new URL(sb().urls.vaultUrl).host, unbound.displayName);
    expect(state).toMatchObject({
      verifiedVersion: latest.version,
      provenance: { issued: [{ version: latest.version, requestId: expect.stringMatching(/\w/) }] },
    });
    expect(stdout.join("")).toMatch(/keyVaultCertificate: \{ vaultUrl/);

    // The next plan (Rollover's own identity, not the person's) finds the binding converged.
    const rolloverEnv = { ...sb().env };
    const saved = { ...process.env };
    for (const k of Object.keys(sb().operatorEnv)) delete process.env[k];
    Object.assign(process.env, rolloverEnv);
    try {
      expect(await rollover("plan", "--json")).toBeLessThanOrEqual(3);
    } finally {
      Object.assign(process.env, saved);
    }
    const outcome = JSON.parse(stdout.join("")).outcomes.find(
      (o: { ref: { certificateName: string } }) => o.ref.certificateName === unbound.displayName,
    );
    expect(outcome).toMatchObject({ result: "converged", reason: "UpToDate" });

    // Audited, with the person as the actor.
    const mine = auditRecords().filter(
      (r) => r.CertificateName === unbound.displayName && r.Action !== "wait",
    );
    expect(mine.map((r) => `${r.Action}/${r.Outcome}`)).toEqual([
      "bind/planned",
      "bind/succeeded",
      "attach/succeeded",
      "verify/succeeded",
    ]);
    for (const r of mine) {
      expect(r.Actor).toContain(sb().ctx.operator.upn);
      expect(r.Actor).toContain(sb().ctx.operator.objectId);
    }
  });

  it("bind again changes nothing and says so", async () => {
    const { unbound } = DEMO_ONBOARDING;
    const before = fingerprint();
    expect(await rollover("bind", unbound.appId, "--yes")).toBe(0);
    expect(stdout.join("")).toMatch(/already binds inventory-api .* nothing changed/);
    expect(fingerprint()).toBe(before);
    expect(auditRecords().at(-1)).toMatchObject({
      Action: "bind",
      Outcome: "skipped",
      Reason: "AlreadyBound",
    });
  });

  it.each([
    [["nosuch-app"], "<target>"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--vault", "elsewhere-kv"], "--vault"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--name", "9-starts-with-a-digit"], "--name"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--name", DEMO.apps.payments.certificate], "--name"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--validity-months", "0"], "--validity-months"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--validity-months", "1201"], "--validity-months"],
    // The demo tenant's app management policy allows certificates of at most 397 days.
    [[DEMO_ONBOARDING.secretUser.displayName, "--validity-months", "24"], "--validity-months"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--key-size", "1024"], "--key-size"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--key-type", "EC"], "--key-type"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--mode", "sometimes"], "--mode"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--type", "user"], "--type"],
    [[DEMO_ONBOARDING.secretUser.displayName, "--tenant", "not-a-guid"], "--tenant"],
  ])("bind %j exits 2 naming %s and creates nothing", async (args, field) => {
    const before = fingerprint();
    expect(await rollover("bind", ...args, "--yes")).toBe(2);
    const line = stderr
      .join("")
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("rollover:"));
    expect(line).toHaveLength(1);
    expect(line[0]).toContain(field);
    expect(fingerprint()).toBe(before);
  });

  it("without rights on the vault, bind exits 2 naming the vault and creates nothing", async () => {
    const vault = sb().ctx.vault as unknown as { deniedObjectIds: Set<string> };
    const before = fingerprint();
    vault.deniedObjectIds.add(sb().ctx.operator.objectId);
    try {
      expect(await rollover("bind", DEMO_ONBOARDING.secretUser.displayName, "--yes")).toBe(2);
    } finally {
      vault.deniedObjectIds.delete(sb().ctx.operator.objectId);
    }
    expect(stderr.join("")).toMatch(/--vault: Key Vault .* refused you \(HTTP 403\)/);
    expect(fingerprint()).toBe(before);
  });

  it("without the rights to write the target, bind stops with the fix; run again with them, it finishes", async () => {
    const { ctx, urls } = sb();
    const target = ctx.directory.createApplication(urls.tenantId, { displayName: "needs-an-admin" });
    const roles = ctx.operator.roles;
    ctx.operator.roles = [];
    try {
      expect(await rollover("bind", target.id, "--yes")).toBe(2);
    } finally {
      ctx.operator.roles = roles;
    }
    expect(stderr.join("")).toMatch(/Application Administrator role or ownership of the target/);
    expect(app(target.id).keyCredentials).toEqual([]);
    // The certificate exists, tagged; the next run puts its key on and verifies it, creating nothing new.
    expect(ctx.vault.versions("needs-an-admin")).toHaveLength(1);
    expect(await rollover("bind", target.id, "--yes"), stderr.join("")).toBe(0);
    expect(stdout.join("")).toMatch(/use the existing certificate/);
    expect(ctx.vault.versions("needs-an-admin")).toHaveLength(1);
    expect(app(target.id).keyCredentials).toHaveLength(1);
  });

  it("a certificate someone else tagged for the target is never put on it by bind", async () => {
    const { ctx, urls } = sb();
    const target = ctx.directory.createApplication(urls.tenantId, { displayName: "planted" });
    // Someone with certificates-write on the vault prepares a tagged certificate (its key could be theirs).
    await ctx.vault.createCertificate("planted", {
      tags: { "rollover-target": target.id, "rollover-target-type": "application" },
    });
    expect(await rollover("bind", target.id, "--yes")).toBe(2);
    expect(stderr.join("")).toMatch(/--name: .*Rollover did not issue its version/);
    expect(app(target.id).keyCredentials).toEqual([]);
  });

  it("an owner without an administrator role may bind their own application", async () => {
    const { ctx, urls } = sb();
    const target = ctx.directory.createApplication(urls.tenantId, { displayName: "owned-by-operator" });
    ctx.directory.addOwner(urls.tenantId, target.id, ctx.operator.objectId);
    const roles = ctx.operator.roles;
    ctx.operator.roles = [];
    try {
      expect(await rollover("bind", target.id, "--yes"), stderr.join("")).toBe(0);
    } finally {
      ctx.operator.roles = roles;
    }
    expect(app(target.id).keyCredentials).toHaveLength(1);
  });

  it("binds an agent identity blueprint on its type-cast path", async () => {
    const { ctx, urls } = sb();
    const bp = ctx.directory.createApplication(urls.tenantId, {
      displayName: "helpdesk-agent-blueprint",
      kind: "agentIdentityBlueprint",
    });
    expect(await rollover("bind", bp.appId, "--yes"), stderr.join("")).toBe(0);
    expect(ctx.vault.latest("helpdesk-agent-blueprint")?.tags["rollover-target-type"]).toBe(
      "agentIdentityBlueprint",
    );
    expect(app(bp.id).keyCredentials).toHaveLength(1);
  });

  it("an ambiguous display name exits 2 listing the matches", async () => {
    const t = sb().urls.tenantId;
    const a = sb().ctx.directory.createApplication(t, { displayName: "twin-service" });
    const b = sb().ctx.directory.createApplication(t, { displayName: "twin-service" });
    const before = sb().ctx.vault.certificateNames().length;
    expect(await rollover("bind", "twin-service", "--yes")).toBe(2);
    expect(stderr.join("")).toContain(a.id);
    expect(stderr.join("")).toContain(b.id);
    expect(sb().ctx.vault.certificateNames()).toHaveLength(before);
  });

  it("where the target already trusts a certificate of the vault, bind adds the key as the target itself", async () => {
    const { ctx, urls } = sb();
    const target = ctx.directory.createApplication(urls.tenantId, { displayName: "self-onboarder" });
    const existing = await ctx.vault.createCertificate("self-onboarder-manual");
    ctx.directory.addKeyCredential(urls.tenantId, target.id, { certificateDer: existing.cerDer });
    expect(await rollover("bind", target.id, "--name", "self-onboarder", "--yes"), stderr.join("")).toBe(0);
    expect(app(target.id).keyCredentials).toHaveLength(2);
    const attach = auditRecords().find(
      (r) => r.CertificateName === "self-onboarder" && r.Action === "attach",
    );
    expect(attach?.Message).toMatch(/as the target itself/);
  });

  it("unbind refuses while the keys signed in recently, and without sign-in data asks for --force", async () => {
    const { unbound } = DEMO_ONBOARDING;
    const before = fingerprint();
    // bind proved the certificate with a token a moment ago: that is a recent sign-in.
    expect(await rollover("unbind", unbound.displayName, "--yes")).toBe(2);
    expect(stderr.join("")).toMatch(/--force: key .* signed in at .* still uses it/);
    // Without AuditLog.Read.All the report is unreadable: unbind cannot tell, so it needs --force.
    const scopes = sb().ctx.operator.scopes;
    sb().ctx.operator.scopes = scopes.filter((s) => s !== "AuditLog.Read.All");
    try {
      expect(await rollover("unbind", unbound.displayName, "--yes")).toBe(2);
      expect(stderr.join("")).toMatch(/--force: sign-in data is not readable .*AuditLog\.Read\.All/);
    } finally {
      sb().ctx.operator.scopes = scopes;
    }
    expect(fingerprint()).toBe(before);
  });

  it("unbind --force --yes leaves no Rollover key on the target and no tags, and disables the versions", async () => {
    const { unbound } = DEMO_ONBOARDING;
    expect(await rollover("unbind", unbound.displayName, "--force", "--yes"), stderr.join("")).toBe(0);
    expect(app(unbound.id).keyCredentials).toEqual([]);
    for (const v of sb().ctx.vault.versions(unbound.displayName)) {
      expect(Object.keys(v.tags).filter((k) => k.startsWith("rollover-"))).toEqual([]);
      expect(v.enabled).toBe(false);
    }
    const records = auditRecords().filter(
      (r) => r.CertificateName === unbound.displayName && r.Action === "unbind",
    );
    expect(records.map((r) => r.Outcome)).toEqual(["planned", "succeeded", "succeeded"]);
    for (const r of records) expect(r.Actor).toContain(sb().ctx.operator.upn);
    // Again: nothing to do.
    expect(await rollover("unbind", unbound.displayName, "--yes")).toBe(0);
    expect(stdout.join("")).toMatch(/not a binding/);
    // The sweep leaves the target alone: no finding, no removal for it.
    const seen = auditRecords().length;
    expect(await rollover("sweep")).toBe(0);
    expect(
      auditRecords()
        .slice(seen)
        .filter((r) => r.TargetObjectId === unbound.id),
    ).toEqual([]);
  });

  it("migrate-secret: binds, reports until the service signs in with its certificate, then removes the secrets on request", async () => {
    const { secretUser } = DEMO_ONBOARDING;
    const { ctx } = sb();
    expect(await rollover("migrate-secret", secretUser.displayName, "--yes"), stderr.join("")).toBe(0);
    expect(ctx.vault.latest(secretUser.displayName)?.tags["rollover-target"]).toBe(secretUser.id);
    // bind's own verification is not the service switching; the seeded secret sign-in shows.
    expect(stdout.join("")).toMatch(/still on its client secret .*last sign-in with a secret: \d{4}-/);
    expect(await rollover("migrate-secret", secretUser.displayName, "--remove-secrets", "--yes")).toBe(2);
    expect(stderr.join("")).toMatch(/--remove-secrets: .* has not switched/);
    expect(app(secretUser.id).passwordCredentials).toHaveLength(1);

    const statusOf = async () => {
      expect(await rollover("status", "--json")).toBeLessThanOrEqual(1);
      return JSON.parse(stdout.join("")).bindings.find(
        (b: { certificate: string }) => b.certificate === secretUser.displayName,
      );
    };
    expect(await statusOf()).toMatchObject({
      target: { id: secretUser.id },
      secrets: { state: "notSwitched" },
    });

    // The service switches: an hour on, it signs in with the certificate.
    await ctx.clock.advance(HOUR);
    await signInWithCertificate(secretUser.appId, secretUser.displayName);
    expect(await statusOf()).toMatchObject({ secrets: { state: "switched" } });
    expect(await rollover("migrate-secret", secretUser.displayName)).toBe(0);
    expect(stdout.join("")).toMatch(/switched to its certificate/);
    expect(stdout.join("")).toMatch(/--remove-secrets --yes/);
    expect(await rollover("migrate-secret", secretUser.displayName, "--remove-secrets")).toBe(0);
    expect(app(secretUser.id).passwordCredentials).toHaveLength(1);
    // The sweep reports the secret on the bound target, run after run, and leaves it.
    const sweepFindings = async () => {
      const seen = auditRecords().length;
      expect(await rollover("sweep")).toBeLessThanOrEqual(3);
      return auditRecords()
        .slice(seen)
        .filter((r) => r.TargetObjectId === secretUser.id && r.Reason === "SecretOnBoundTarget");
    };
    expect(await sweepFindings()).toHaveLength(1);
    expect(await sweepFindings()).toHaveLength(1);
    expect(app(secretUser.id).passwordCredentials).toHaveLength(1);
    expect(await rollover("migrate-secret", secretUser.displayName, "--remove-secrets", "--yes")).toBe(0);
    expect(app(secretUser.id).passwordCredentials).toEqual([]);
    expect(await sweepFindings()).toEqual([]);

    const records = auditRecords().filter(
      (r) => r.TargetObjectId === secretUser.id && r.Action !== "sweepFinding",
    );
    expect(records.map((r) => r.Action)).toEqual(
      expect.arrayContaining(["bind", "attach", "verify", "migrateSecret", "removeSecret"]),
    );
    expect(records.filter((r) => r.Action === "migrateSecret").map((r) => r.Reason)).toEqual([
      "SecretStillInUse",
      "SecretStillInUse",
      "SwitchedToCertificate",
      "SwitchedToCertificate",
      "SwitchedToCertificate",
    ]);
    for (const r of records) expect(r.Actor).toContain(ctx.operator.upn);
  });

  describe("a target in another tenant (--tenant), where the person is a guest", () => {
    const fabrikam = DEMO.secondTenantId;
    const inFabrikam = (id: string) => sb().ctx.directory.get(fabrikam, id)!;
    const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
    const writes = () => {
      const c = sb().requestCounts.get();
      return { graph: c["graph:write"] ?? 0, keyvault: c["keyvault:write"] ?? 0 };
    };

    it("bind --tenant --yes: tagged certificate in the home vault, key on the target as the guest, token as the target there; then rotated", async () => {
      const { ctx } = sb();
      const target = addPartnerApplication(ctx.directory, fabrikam, { displayName: "fabrikam-billing" });
      const args = ["bind", target.appId, "--tenant", fabrikam, "--validity-months", "1", "--yes"];
      expect(await rollover(...args), stderr.join("")).toBe(0);
      const latest = ctx.vault.latest("fabrikam-billing")!;
      expect(latest.tags).toEqual({
        "rollover-target": target.id,
        "rollover-target-type": "application",
        "rollover-tenant": fabrikam,
        "rollover-client-id": target.appId,
      });
      expect(inFabrikam(target.id).keyCredentials.map((k) => b64(k.key))).toEqual([b64(latest.cerDer)]);
      // Proven by a token as the target itself, in its own tenant.
      const proof = ctx.signIns
        .entries()
        .filter((e) => e.clientId === target.appId && e.credential === latest.thumbprintHex && e.success);
      expect(proof.map((e) => e.tenantId)).toEqual([fabrikam]);
      expect(stdout.join("")).toMatch(/is bound/);
      const attach = auditRecords().find(
        (r) => r.CertificateName === "fabrikam-billing" && r.Action === "attach",
      );
      expect(attach).toMatchObject({ Outcome: "succeeded", TargetTenantId: fabrikam });

      // Two days on (a one-month certificate is then due), Rollover's run renews it as the target
      // itself, in Fabrikam, from the home vault.
      await ctx.clock.advance(48 * HOUR);
      const { engine } = makeEngine(sb());
      const ref = { vaultName: new URL(sb().urls.vaultUrl).host, certificateName: "fabrikam-billing" };
      const out = await engine.reconcile(ref);
      expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
      expect(out.steps[1]).toMatchObject({ kind: "attach", mode: "self" });
      const renewed = ctx.vault.latest("fabrikam-billing")!;
      expect(renewed.version).not.toBe(latest.version);
      expect(inFabrikam(target.id).keyCredentials.map((k) => b64(k.key))).toEqual(
        expect.arrayContaining([b64(latest.cerDer), b64(renewed.cerDer)]),
      );
      const signIn = ctx.signIns
        .entries()
        .find((e) => e.clientId === target.appId && e.credential === renewed.thumbprintHex && e.success);
      expect(signIn?.tenantId).toBe(fabrikam);
    });

    it("bind --tenant without --yes reads there as the guest and writes nothing", async () => {
      const { ctx, requestCounts } = sb();
      const target = addPartnerApplication(ctx.directory, fabrikam, { displayName: "fabrikam-ledger" });
      requestCounts.reset();
      expect(await rollover("bind", target.id, "--tenant", fabrikam), stderr.join("")).toBe(0);
      expect(stdout.join("")).toMatch(/Bind fabrikam-ledger \(application .*\n[\s\S]*Nothing was changed/);
      expect(requestCounts.get().graph).toBeGreaterThan(0);
      expect(writes()).toEqual({ graph: 0, keyvault: 0 });
      expect(ctx.vault.certificateNames()).not.toContain("fabrikam-ledger");
      expect(inFabrikam(target.id).keyCredentials).toEqual([]);
    });

    it("a guest without an administrator role there: Graph refuses the key, bind names the right and the tenant; with the role, it finishes", async () => {
      const { ctx } = sb();
      const target = addPartnerApplication(ctx.directory, fabrikam, { displayName: "fabrikam-payroll" });
      const guest = ctx.operator.guestOf[fabrikam]!;
      // The role at home does not count in Fabrikam: only the guest's own roles there do.
      expect(ctx.operator.roles).toContain(DIRECTORY_ROLES.applicationAdministrator);
      const roles = guest.roles;
      guest.roles = [];
      try {
        expect(await rollover("bind", target.id, "--tenant", fabrikam, "--yes")).toBe(2);
      } finally {
        guest.roles = roles;
      }
      const line = stderr
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("rollover:"));
      expect(line).toHaveLength(1);
      expect(line[0]).toMatch(/Application Administrator role or ownership of the target in tenant /);
      expect(line[0]).toContain(fabrikam);
      expect(inFabrikam(target.id).keyCredentials).toEqual([]);
      // As at home: the certificate exists, tagged; the next run with the role attaches and verifies it.
      expect(ctx.vault.versions("fabrikam-payroll")).toHaveLength(1);
      expect(await rollover("bind", target.id, "--tenant", fabrikam, "--yes"), stderr.join("")).toBe(0);
      expect(stdout.join("")).toMatch(/use the existing certificate/);
      expect(ctx.vault.versions("fabrikam-payroll")).toHaveLength(1);
      expect(inFabrikam(target.id).keyCredentials).toHaveLength(1);
    });

    it("--tenant of a tenant where the person has no account: exit 2 naming the tenant, nothing written", async () => {
      const { ctx, requestCounts } = sb();
      const northwind = "4e0d1b2a-0000-4000-8000-0000000000e1";
      ctx.directory.addTenant(northwind, "Northwind");
      const target = addPartnerApplication(ctx.directory, northwind, { displayName: "northwind-sync" });
      const names = ctx.vault.certificateNames();
      requestCounts.reset();
      expect(await rollover("bind", target.appId, "--tenant", northwind, "--yes")).toBe(2);
      const line = stderr
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("rollover:"));
      expect(line).toHaveLength(1);
      expect(line[0]).toContain("--tenant");
      expect(line[0]).toContain(northwind);
      expect(line[0]).toMatch(/AADSTS50020/);
      expect(writes()).toEqual({ graph: 0, keyvault: 0 });
      expect(ctx.vault.certificateNames()).toEqual(names);
      expect(ctx.directory.get(northwind, target.id)!.keyCredentials).toEqual([]);
    });
  });
});
