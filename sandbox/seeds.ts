/**
 * Seeds: `empty`, `demo` and `scale:N`. Every seed starts from a reset tenant (directory, vault,
 * ingested logs and sign-in log emptied; Rollover's managed identity recreated), so seeding twice
 * gives the same tenant.
 *
 * Bindings follow DESIGN.md: a Key Vault certificate tagged `rollover-target` (object id),
 * `rollover-target-type`, optionally `rollover-tenant` and `rollover-mode`, whose current version's
 * certificate is also a key credential of the target, so the two match as they do after a rotation.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { DIRECTORY_ROLES } from "./entra/operator.js";
import { graphDate } from "./graph/directory.js";
import { addAppManagementPolicy, setDefaultAppManagementPolicy } from "./graph/policies.js";
import type {
  CertificatePolicyInit,
  CertificateVersionInfo,
  DirectoryObjectSnapshot,
  DirectoryStore,
  NewApplication,
  SandboxContext,
} from "./types.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type SeedName = "empty" | "demo" | `scale:${number}`;

/** The largest `scale:N` accepted. */
export const MAX_SCALE = 1_000_000;

export class SeedNameError extends Error {
  override name = "SeedNameError";
}

/** Parses a seed name; throws a SeedNameError naming the accepted forms. */
export function parseSeedName(raw: string): SeedName {
  const s = raw.trim();
  if (s === "empty" || s === "demo") return s;
  const m = /^scale:(\d+)$/.exec(s);
  if (m) {
    const n = Number(m[1]);
    if (n >= 1 && n <= MAX_SCALE) return `scale:${n}`;
    throw new SeedNameError(`seed "${raw}": N in scale:N must be from 1 to ${MAX_SCALE}`);
  }
  throw new SeedNameError(`unknown seed "${raw}": use empty, demo or scale:N (e.g. scale:1000)`);
}

const DAY = 86_400_000;

/** Well-known names and ids of the `demo` seed, for tests and the walkthrough. */
export const DEMO = {
  /** A second tenant, with one application bound from the home vault (multi-tenant bindings). */
  secondTenantId: "3c6f1c27-0000-4000-8000-00000000fab1",
  /**
   * The operator is a guest (B2B) in the second tenant and holds Application Administrator there,
   * so `rollover bind --tenant` can write its applications. This is the guest user's object id
   * in that tenant (not the operator's home one).
   */
  operatorGuestObjectId: "0a0b0c0d-0000-4000-8000-00000000fab2",
  apps: {
    /** Bound (self mode), non-exportable key, expires in 20 days: already within NearExpiry's 30 days. */
    payments: {
      displayName: "payments-api",
      id: "a1000000-0000-4000-8000-000000000001",
      appId: "b1000000-0000-4000-8000-000000000001",
      certificate: "payments-api",
      expiresInDays: 20,
    },
    /** Bound (self mode), exportable key, expires in 45 days: NearExpiry fires after 15 days. */
    orders: {
      displayName: "orders-worker",
      id: "a1000000-0000-4000-8000-000000000002",
      appId: "b1000000-0000-4000-8000-000000000002",
      certificate: "orders-worker",
      expiresInDays: 45,
    },
    /**
     * Owned by Rollover's managed identity; bound in `managed` mode; its only certificate expired
     * 3 days ago (so only the managed path can recover it).
     */
    reporting: {
      displayName: "reporting-batch",
      id: "a1000000-0000-4000-8000-000000000003",
      appId: "b1000000-0000-4000-8000-000000000003",
      certificate: "reporting-batch",
      expiresInDays: -3,
    },
    /**
     * Not owned by Rollover's identity and not bound. Holds an orphaned key (a certificate no
     * Key Vault version backs, valid 200 more days), an expired secret and a valid secret.
     */
    legacy: {
      displayName: "legacy-portal",
      id: "a1000000-0000-4000-8000-000000000004",
      appId: "b1000000-0000-4000-8000-000000000004",
      orphanKeyId: "c1000000-0000-4000-8000-000000000004",
      expiredSecretKeyId: "d1000000-0000-4000-8000-000000000004",
      validSecretKeyId: "d2000000-0000-4000-8000-000000000004",
    },
    /** Not bound; a client secret valid for three years (over-long-lived under any sane policy). */
    marketing: {
      displayName: "marketing-site",
      id: "a1000000-0000-4000-8000-000000000005",
      appId: "b1000000-0000-4000-8000-000000000005",
      longSecretKeyId: "d1000000-0000-4000-8000-000000000005",
    },
  },
  blueprint: {
    displayName: "contoso-agent-blueprint",
    id: "a1000000-0000-4000-8000-0000000000b1",
    /** Has its blueprint principal (find it with `findByAppId(tenant, appId, "servicePrincipal")`). */
    appId: "b1000000-0000-4000-8000-0000000000b1",
    certificate: "contoso-agent-blueprint",
    expiresInDays: 25,
    /** Agent identities: object id == app id. */
    agentIdentities: [
      { displayName: "contoso-agent-support", id: "f1000000-0000-4000-8000-0000000000a1" },
      { displayName: "contoso-agent-sales", id: "f1000000-0000-4000-8000-0000000000a2" },
    ],
  },
  /** In the second tenant; its certificate lives in the home vault, tagged `rollover-tenant`. */
  partner: {
    displayName: "fabrikam-connector",
    id: "a2000000-0000-4000-8000-000000000001",
    appId: "b2000000-0000-4000-8000-000000000001",
    certificate: "fabrikam-connector",
    expiresInDays: 28,
  },
  /**
   * Granted to Rollover's managed identity in the home tenant on top of every seed's
   * Application.Read.All: what a deployment with `managedMode` on grants (docs/permissions.md).
   * The demo shows managed mode (reporting-batch, owned by Rollover's identity), so the demo runs
   * Rollover with ROLLOVER_MANAGED_MODE=true (the ready line's env says so).
   */
  managedIdentityRole: "Application.ReadWrite.OwnedBy",
  /** Granted to the blueprint's own principal, so it can roll its own key (self mode). */
  blueprintRole: "AgentIdentityBlueprint.AddRemoveCreds.All",
} as const;

/**
 * A customKeyIdentifier as a person or tool may set it: any text, base64-encoded (Graph's type is
 * Binary), not the certificate's thumbprint (keycredential.md: "Custom key identifier").
 */
export function customIdentifier(text: string): string {
  return Buffer.from(text).toString("base64");
}

/** Empties the tenant and recreates what every seed has: the home tenant and Rollover's identity. */
export function resetTenant(ctx: SandboxContext): void {
  ctx.directory.reset();
  ctx.vault.reset();
  ctx.logs.reset();
  ctx.signIns.reset();
  const home = ctx.directory.defaultTenantId;
  if (!ctx.directory.tenantIds().includes(home)) ctx.directory.addTenant(home);
  if (!ctx.directory.get(home, ctx.managedIdentity.objectId)) {
    ctx.directory.createServicePrincipal(home, {
      appId: ctx.managedIdentity.clientId,
      id: ctx.managedIdentity.objectId,
      displayName: "rollover-identity",
      kind: "managedIdentity",
    });
  }
  // Every deployment grants Rollover's identity Application.Read.All (it reads targets and sweeps
  // the tenant; docs/permissions.md), so every seed does too.
  ctx.directory.grantAppRole(home, ctx.managedIdentity.objectId, "Application.Read.All");
}

export async function seedTenant(ctx: SandboxContext, seed: SeedName): Promise<void> {
  const name = parseSeedName(seed);
  const started = Date.now();
  resetTenant(ctx);
  if (name === "demo") await seedDemo(ctx);
  else if (name.startsWith("scale:")) await seedScale(ctx, Number(name.slice("scale:".length)));
  ctx.log(`seeded "${name}" in ${Date.now() - started} ms`);
}

/** A policy for bound certificates: Rollover renews them, so Key Vault only e-mails. */
function boundPolicy(subject: string, exportable: boolean): CertificatePolicyInit {
  return {
    subject,
    validityInMonths: 12,
    keyType: "RSA",
    keySize: 2048,
    exportable,
    contentType: "application/x-pkcs12",
    issuerName: "Self",
    lifetimeActions: [{ trigger: { days_before_expiry: 30 }, action: { action_type: "EmailContacts" } }],
  };
}

/**
 * Creates a Key Vault certificate that expires `expiresInDays` from now (a year's validity) and
 * attaches its certificate to the target as a key credential.
 */
async function bindCertificate(
  ctx: SandboxContext,
  opts: {
    certificate: string;
    tenantId: string;
    objectId: string;
    targetType: "application" | "agentIdentityBlueprint" | "servicePrincipal";
    expiresInDays: number;
    exportable?: boolean;
    mode?: "self" | "managed";
    crossTenant?: boolean;
    clientId?: string;
    /** A customKeyIdentifier that is not the thumbprint (people set such values; Graph keeps them). */
    customKeyIdentifier?: string;
  },
): Promise<CertificateVersionInfo> {
  const nowMs = ctx.clock.now();
  const expires = Math.floor((nowMs + opts.expiresInDays * DAY) / 1000);
  const notBefore = expires - 365 * 86_400;
  const tags: Record<string, string> = {
    "rollover-target": opts.objectId,
    "rollover-target-type": opts.targetType,
  };
  if (opts.crossTenant) tags["rollover-tenant"] = opts.tenantId;
  if (opts.clientId) tags["rollover-client-id"] = opts.clientId;
  if (opts.mode) tags["rollover-mode"] = opts.mode;
  const info = await ctx.vault.createCertificate(opts.certificate, {
    policy: boundPolicy(`CN=${opts.certificate}`, opts.exportable ?? false),
    tags,
    notBefore,
    expires,
  });
  ctx.directory.addKeyCredential(opts.tenantId, opts.objectId, {
    certificateDer: info.cerDer,
    displayName: `CN=${opts.certificate}`,
    ...(opts.customKeyIdentifier ? { customKeyIdentifier: opts.customKeyIdentifier } : {}),
  });
  return info;
}

/**
 * An application in another tenant, set up to be rotated from the home vault. Rollover has no
 * identity in the partner tenant: it signs in there as the application itself. The partner's admin
 * makes the application's service principal an owner of its own application and grants it
 * Application.ReadWrite.OwnedBy, so it can read (and roll) its own credentials.
 */
export function addPartnerApplication(
  dir: DirectoryStore,
  tenantId: string,
  init: NewApplication,
): DirectoryObjectSnapshot {
  const app = dir.createApplication(tenantId, init);
  const sp = dir.findByAppId(tenantId, app.appId, "servicePrincipal");
  if (sp) {
    dir.addOwner(tenantId, app.id, sp.id);
    dir.grantAppRole(tenantId, sp.id, "Application.ReadWrite.OwnedBy");
  }
  return app;
}

async function seedDemo(ctx: SandboxContext): Promise<void> {
  const home = ctx.directory.defaultTenantId;
  const dir = ctx.directory;
  const now = ctx.clock.now();
  const iso = (days: number) => new Date(now + days * DAY).toISOString();
  const { payments, orders, reporting, legacy, marketing } = DEMO.apps;
  const bp = DEMO.blueprint;
  const partner = DEMO.partner;

  // The directory first (cheap), then the certificates, issued concurrently (key generation
  // dominates the seed's time).
  dir.grantAppRole(home, ctx.managedIdentity.objectId, DEMO.managedIdentityRole);
  for (const app of [payments, orders, reporting, legacy, marketing]) {
    dir.createApplication(home, { displayName: app.displayName, id: app.id, appId: app.appId });
  }
  dir.addOwner(home, reporting.id, ctx.managedIdentity.objectId);

  // legacy-portal: an expired and a valid secret (its orphaned key is added below).
  dir.addPasswordCredential(home, legacy.id, {
    displayName: "old deploy secret",
    startDateTime: iso(-190),
    endDateTime: iso(-10),
    keyId: legacy.expiredSecretKeyId,
  });
  dir.addPasswordCredential(home, legacy.id, {
    displayName: "deploy secret",
    startDateTime: iso(-20),
    endDateTime: iso(160),
    keyId: legacy.validSecretKeyId,
  });
  dir.addPasswordCredential(home, marketing.id, {
    displayName: "cms integration",
    startDateTime: iso(-30),
    endDateTime: iso(3 * 365 - 30),
    keyId: marketing.longSecretKeyId,
  });

  // The agent identity blueprint (and its blueprint principal) holds the credential; its agent
  // identities hold none.
  dir.createApplication(home, {
    displayName: bp.displayName,
    kind: "agentIdentityBlueprint",
    id: bp.id,
    appId: bp.appId,
  });
  // Graph documents no permission-free self-roll for blueprints (agentidentityblueprint-addkey.md
  // lists only AgentIdentityBlueprint.AddRemoveCreds.All / .ReadWrite.All): the blueprint's
  // principal is granted the least of them, so it can roll its own key (docs/permissions.md).
  const bpPrincipal = dir.findByAppId(home, bp.appId, "servicePrincipal");
  if (bpPrincipal) dir.grantAppRole(home, bpPrincipal.id, DEMO.blueprintRole);
  for (const agent of bp.agentIdentities) {
    dir.createServicePrincipal(home, {
      appId: agent.id,
      id: agent.id,
      displayName: agent.displayName,
      kind: "agentIdentity",
      blueprintAppId: bp.appId,
    });
  }

  // A second tenant with one application whose certificate lives in the home vault.
  dir.addTenant(DEMO.secondTenantId, "Fabrikam");
  ctx.operator.guestOf[DEMO.secondTenantId] = {
    objectId: DEMO.operatorGuestObjectId,
    roles: [DIRECTORY_ROLES.applicationAdministrator],
  };
  addPartnerApplication(dir, DEMO.secondTenantId, {
    displayName: partner.displayName,
    id: partner.id,
    appId: partner.appId,
  });

  await Promise.all([
    bindCertificate(ctx, {
      certificate: payments.certificate,
      tenantId: home,
      objectId: payments.id,
      targetType: "application",
      expiresInDays: payments.expiresInDays,
      exportable: false,
      customKeyIdentifier: customIdentifier("payments-api 2025 cert"),
    }),
    bindCertificate(ctx, {
      certificate: orders.certificate,
      tenantId: home,
      objectId: orders.id,
      targetType: "application",
      expiresInDays: orders.expiresInDays,
      exportable: true,
      mode: "self",
    }),
    bindCertificate(ctx, {
      certificate: reporting.certificate,
      tenantId: home,
      objectId: reporting.id,
      targetType: "application",
      expiresInDays: reporting.expiresInDays,
      mode: "managed",
    }),
    bindCertificate(ctx, {
      certificate: bp.certificate,
      tenantId: home,
      objectId: bp.id,
      targetType: "agentIdentityBlueprint",
      expiresInDays: bp.expiresInDays,
    }),
    bindCertificate(ctx, {
      certificate: partner.certificate,
      tenantId: DEMO.secondTenantId,
      objectId: partner.id,
      targetType: "application",
      expiresInDays: partner.expiresInDays,
      crossTenant: true,
      clientId: partner.appId,
    }),
    // An orphaned key: a certificate no Key Vault version backs.
    makeCertificate("CN=legacy-portal-2023", now - 165 * DAY, now + 200 * DAY).then((orphan) => {
      dir.addKeyCredential(home, legacy.id, {
        certificateDer: orphan,
        displayName: "CN=legacy-portal-2023",
        keyId: legacy.orphanKeyId,
        customKeyIdentifier: customIdentifier("legacy-portal-2023"),
      });
    }),
  ]);
  await seedDemoInsight(ctx);
  seedOnboarding(ctx);
}

// ---------------------------------------------------------------------------------------------
// Demo: insight (unused, never-used and powerful credentials; app management policy). Kept in
// one block so the rest of the demo seed stays as it was.

/** Well-known names and ids of the demo's insight additions. */
export const DEMO_INSIGHT = {
  /** A client secret last used 120 days ago (CredentialUnused). */
  billing: {
    displayName: "billing-export",
    id: "a1000000-0000-4000-8000-000000000006",
    appId: "b1000000-0000-4000-8000-000000000006",
    unusedSecretKeyId: "d1000000-0000-4000-8000-000000000006",
    lastSignInDaysAgo: 120,
  },
  /**
   * Bound to a Key Vault certificate whose policy issues 24-month certificates, longer than the
   * tenant policy allows (PolicyWouldRefuse at renewal, due in 10 days); its certificate was never
   * used to sign in (CredentialNeverUsed).
   */
  inventory: {
    displayName: "inventory-sync",
    id: "a1000000-0000-4000-8000-000000000007",
    appId: "b1000000-0000-4000-8000-000000000007",
    certificate: "inventory-sync",
    expiresInDays: 10,
    validityInMonths: 24,
  },
  /** Holds Application.ReadWrite.All and a client secret (HighPrivilegeCredential). */
  directorySync: {
    displayName: "directory-sync",
    id: "a1000000-0000-4000-8000-000000000008",
    appId: "b1000000-0000-4000-8000-000000000008",
    secretKeyId: "d1000000-0000-4000-8000-000000000008",
    permission: "Application.ReadWrite.All",
  },
  /** The tenant's default app management policy: certificates at most 397 days, secrets 180. */
  tenantPolicy: { keyMaxLifetime: "P397D", passwordMaxLifetime: "P180D" },
  /** A policy of its own for directory-sync: no new secrets at all. */
  noSecretsPolicyId: "e1000000-0000-4000-8000-000000000001",
  /** The optional grants the insight findings read with (docs/permissions.md). */
  managedIdentityRoles: ["AuditLog.Read.All", "Policy.Read.All"],
} as const;

async function seedDemoInsight(ctx: SandboxContext): Promise<void> {
  const home = ctx.directory.defaultTenantId;
  const dir = ctx.directory;
  const now = ctx.clock.now();
  const iso = (days: number) => new Date(now + days * DAY).toISOString().replace(/\.\d{3}Z$/, "Z");
  const { billing, inventory, directorySync } = DEMO_INSIGHT;
  for (const role of DEMO_INSIGHT.managedIdentityRoles)
    dir.grantAppRole(home, ctx.managedIdentity.objectId, role);
  for (const app of [billing, inventory, directorySync])
    dir.createApplication(home, { displayName: app.displayName, id: app.id, appId: app.appId });

  dir.addPasswordCredential(home, billing.id, {
    displayName: "nightly export",
    startDateTime: iso(-200),
    endDateTime: iso(160),
    keyId: billing.unusedSecretKeyId,
  });
  dir.addPasswordCredential(home, directorySync.id, {
    displayName: "sync job",
    startDateTime: iso(-15),
    endDateTime: iso(165),
    keyId: directorySync.secretKeyId,
  });
  const syncSp = dir.findByAppId(home, directorySync.appId, "servicePrincipal");
  if (syncSp) dir.grantAppRole(home, syncSp.id, directorySync.permission);

  // The sign-in log: billing-export's secret last signed in 120 days ago, directory-sync's today.
  const signIn = (appId: string, keyId: string, daysAgo: number) =>
    ctx.signIns.add({
      time: iso(-daysAgo),
      tenantId: home,
      clientId: appId,
      credentialType: "secret",
      credential: keyId,
      keyId,
      resource: "https://graph.microsoft.com",
      success: true,
    });
  signIn(billing.appId, billing.unusedSecretKeyId, billing.lastSignInDaysAgo);
  signIn(directorySync.appId, directorySync.secretKeyId, 0);

  setDefaultAppManagementPolicy(ctx, home, {
    applicationRestrictions: {
      keyCredentials: [
        { restrictionType: "asymmetricKeyLifetime", maxLifetime: DEMO_INSIGHT.tenantPolicy.keyMaxLifetime },
      ],
      passwordCredentials: [
        { restrictionType: "passwordLifetime", maxLifetime: DEMO_INSIGHT.tenantPolicy.passwordMaxLifetime },
      ],
    },
  });
  addAppManagementPolicy(ctx, home, {
    id: DEMO_INSIGHT.noSecretsPolicyId,
    displayName: "No new secrets",
    restrictions: { passwordCredentials: [{ restrictionType: "passwordAddition" }] },
    appliesTo: [directorySync.id],
  });

  // inventory-sync: a bound certificate whose Key Vault policy asks for more than the tenant allows.
  const expires = Math.floor((now + inventory.expiresInDays * DAY) / 1000);
  const info = await ctx.vault.createCertificate(inventory.certificate, {
    policy: {
      ...boundPolicy(`CN=${inventory.certificate}`, false),
      validityInMonths: inventory.validityInMonths,
    },
    tags: { "rollover-target": inventory.id, "rollover-target-type": "application" },
    notBefore: expires - 365 * 86_400,
    expires,
  });
  dir.addKeyCredential(home, inventory.id, {
    certificateDer: info.cerDer,
    displayName: `CN=${inventory.certificate}`,
  });
}

// --- Onboarding (rollover bind / unbind / migrate-secret) --------------------------------------

/** The `demo` seed's applications for joining Rollover: one to bind, one still on a client secret. */
export const DEMO_ONBOARDING = {
  /** Not bound, no credentials: `rollover bind inventory-api` in the README. */
  unbound: {
    displayName: "inventory-api",
    id: "a1000000-0000-4000-8000-000000000016",
    appId: "b1000000-0000-4000-8000-000000000016",
  },
  /** Signs in with a client secret (recently, per the sign-in log): `rollover migrate-secret`. */
  secretUser: {
    displayName: "shipping-service",
    id: "a1000000-0000-4000-8000-000000000017",
    appId: "b1000000-0000-4000-8000-000000000017",
    secretKeyId: "d1000000-0000-4000-8000-000000000017",
  },
} as const;

function seedOnboarding(ctx: SandboxContext): void {
  const home = ctx.directory.defaultTenantId;
  const dir = ctx.directory;
  const now = ctx.clock.now();
  const iso = (days: number) => new Date(now + days * DAY).toISOString();
  const { unbound, secretUser } = DEMO_ONBOARDING;
  dir.createApplication(home, { displayName: unbound.displayName, id: unbound.id, appId: unbound.appId });
  dir.createApplication(home, {
    displayName: secretUser.displayName,
    id: secretUser.id,
    appId: secretUser.appId,
  });
  dir.addPasswordCredential(home, secretUser.id, {
    displayName: "service secret",
    startDateTime: iso(-60),
    endDateTime: iso(120),
    keyId: secretUser.secretKeyId,
  });
  // The service signed in with its secret an hour ago (what the sign-in report shows).
  const sp = dir.findByAppId(home, secretUser.appId, "servicePrincipal");
  ctx.signIns.add({
    time: new Date(now - 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
    tenantId: home,
    clientId: secretUser.appId,
    ...(sp ? { objectId: sp.id } : {}),
    credentialType: "secret",
    credential: secretUser.secretKeyId,
    keyId: secretUser.secretKeyId,
    resource: "https://graph.microsoft.com",
    success: true,
  });
}

/** The number of applications `scale:N` binds to Key Vault certificates. */
export const SCALE_BOUND_APPS = 5;

/** Deterministic ids for `scale:N` objects: `{prefix}-0000-4000-8000-{index as 12 hex digits}`. */
export function scaleObjectId(index: number, kind: "app" | "appId" = "app"): string {
  const prefix = kind === "app" ? "5ca1e000" : "5ca1e0a1";
  return `${prefix}-0000-4000-8000-${index.toString(16).padStart(12, "0")}`;
}

/**
 * `scale:N`: N applications (each with its service principal) in a realistic mix, using a handful
 * of certificates made once, so seeding does no cryptography per application:
 *
 *   40 % one valid certificate     15 % one valid secret     10 % a certificate and a secret
 *    8 % two certificates (an overlap after a rollover)       8 % an expired secret
 *    7 % an expired certificate     5 % an orphan-looking certificate with no secret
 *    7 % nothing at all
 *
 * plus the first SCALE_BOUND_APPS applications bound to Key Vault certificates.
 */
async function seedScale(ctx: SandboxContext, n: number): Promise<void> {
  const home = ctx.directory.defaultTenantId;
  const dir = ctx.directory;
  const now = ctx.clock.now();
  // Graph's date form, so every credential shares one string per date (graphDate keeps it).
  const iso = (days: number) => graphDate(now + days * DAY);
  const [valid, expired, older, longLived] = await Promise.all([
    makeCertificate("CN=scale-valid", now - 60 * DAY, now + 300 * DAY),
    makeCertificate("CN=scale-expired", now - 400 * DAY, now - 35 * DAY),
    makeCertificate("CN=scale-previous", now - 330 * DAY, now + 35 * DAY),
    makeCertificate("CN=scale-long", now - 10 * DAY, now + 3 * 365 * DAY),
  ]);
  // Dates and display names given, so the directory need not parse the certificate per app.
  const validKey = {
    certificateDer: valid,
    displayName: "CN=scale-valid",
    startDateTime: iso(-60),
    endDateTime: iso(300),
  };
  const validSecret = { startDateTime: iso(-30), endDateTime: iso(150) };
  const expiredSecret = { startDateTime: iso(-200), endDateTime: iso(-20) };
  const previousDates = { startDateTime: iso(-330), endDateTime: iso(35) };
  const expiredKey = { certificateDer: expired, startDateTime: iso(-400), endDateTime: iso(-35) };
  const longKey = {
    certificateDer: longLived,
    displayName: "CN=scale-long",
    startDateTime: iso(-10),
    endDateTime: iso(3 * 365),
  };
  for (let i = 0; i < n; i++) {
    const app = dir.createApplication(home, {
      displayName: `scale-app-${String(i + 1).padStart(6, "0")}`,
      id: scaleObjectId(i),
      appId: scaleObjectId(i, "appId"),
    });
    if (i < SCALE_BOUND_APPS) continue;
    const bucket = (i * 37) % 100;
    if (bucket < 40) {
      dir.addKeyCredential(home, app.id, validKey);
    } else if (bucket < 55) {
      dir.addPasswordCredential(home, app.id, { displayName: "client secret", ...validSecret });
    } else if (bucket < 65) {
      dir.addKeyCredential(home, app.id, validKey);
      dir.addPasswordCredential(home, app.id, { displayName: "client secret", ...validSecret });
    } else if (bucket < 73) {
      dir.addKeyCredential(home, app.id, {
        certificateDer: older,
        ...previousDates,
        customKeyIdentifier: customIdentifier(`previous-${i}`),
      });
      dir.addKeyCredential(home, app.id, validKey);
    } else if (bucket < 81) {
      dir.addPasswordCredential(home, app.id, { displayName: "old secret", ...expiredSecret });
    } else if (bucket < 88) {
      dir.addKeyCredential(home, app.id, expiredKey);
    } else if (bucket < 93) {
      dir.addKeyCredential(home, app.id, longKey);
    }
  }
  await Promise.all(
    Array.from({ length: Math.min(SCALE_BOUND_APPS, n) }, (_, i) =>
      bindCertificate(ctx, {
        certificate: `scale-bound-${i + 1}`,
        tenantId: home,
        objectId: scaleObjectId(i),
        targetType: "application",
        expiresInDays: 10 + i * 10,
        ...(i % 2 === 1 ? { customKeyIdentifier: customIdentifier(`scale-bound-${i + 1}`) } : {}),
      }),
    ),
  );
}

let signingKeys: Promise<CryptoKeyPair> | undefined;

/** A self-signed certificate (DER) for credentials no Key Vault version backs. */
async function makeCertificate(
  subject: string,
  notBeforeMs: number,
  notAfterMs: number,
): Promise<Uint8Array> {
  const alg: RsaHashedKeyGenParams = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  signingKeys ??= webcrypto.subtle.generateKey(alg, false, ["sign", "verify"]) as Promise<CryptoKeyPair>;
  const keys = await signingKeys;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto
      .getRandomValues(new Uint8Array(8))
      .reduce((s, b) => s + b.toString(16).padStart(2, "0"), "01"),
    name: subject,
    notBefore: new Date(Math.floor(notBeforeMs / 1000) * 1000),
    notAfter: new Date(Math.floor(notAfterMs / 1000) * 1000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return new Uint8Array(cert.rawData);
}
