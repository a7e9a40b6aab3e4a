/**
 * The person at the keyboard. `rollover bind`, `unbind` and `migrate-secret` run as whoever runs
 * them (`DefaultAzureCredential`: in practice their Azure CLI sign-in), with their own rights. The
 * sandbox plays that person: a user holding the Application Administrator directory role, signed
 * in to a public client with the delegated scope `Application.ReadWrite.All`.
 *
 * `DefaultAzureCredential` reaches it through `EnvironmentCredential` (`AZURE_CLIENT_ID` +
 * `AZURE_CLIENT_SECRET`, the ready line's `operator.env`): the token endpoint answers that client
 * with a *user* token (`idtyp: user`, `scp`, `wids`, `upn`), as Entra does for a person's
 * delegated sign-in. The operator is no directory object, so seeds and sweeps do not see it.
 * (Where this differs from Azure: docs/sandbox.md.)
 *
 * Delegated permissions are the intersection of the scope and the user's own rights
 * (learn.microsoft.com/graph/permissions-overview#delegated-permissions): writing any
 * application takes `Application.ReadWrite.All` plus a role such as Application Administrator
 * (application-update.md, "Permissions"); with the scope alone a user writes only applications
 * they own.
 *
 * A person may also be a guest (B2B) in other tenants. Signing in to such a tenant
 * (`az login --tenant`, `DefaultAzureCredential({ tenantId })`), Entra issues the token there: `tid`
 * and `iss` of that tenant, `oid` the guest user's object id in it (not the home one), `idp` the
 * home tenant's issuer, no `upn` (learn.microsoft.com/entra/identity-platform/access-token-claims-reference,
 * "idp"), and `wids` the roles the guest holds *in that tenant*. `guestOf` models those accounts
 * per tenant; in a tenant where the person has none, Entra refuses the token with AADSTS50020
 * (token.ts). Tests may change a guest's `roles` (or remove the account) like the home `roles`.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";

/** Directory role template ids (learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference). */
export const DIRECTORY_ROLES = {
  globalAdministrator: "62e90394-69f5-4237-9190-012177145e10",
  applicationAdministrator: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
  cloudApplicationAdministrator: "158c047a-c907-4556-b7ef-446551a6b5f7",
} as const;

/** Roles whose holders may manage every application's credentials. */
export const APPLICATION_ADMIN_ROLES: readonly string[] = Object.values(DIRECTORY_ROLES);

export interface OperatorIdentity {
  /** The public client the person signs in to (what `az login` uses in Azure). */
  clientId: string;
  /** The person's user object id. */
  objectId: string;
  upn: string;
  displayName: string;
  /** The sandbox's stand-in for the person's sign-in; only ever printed in the ready line. */
  secret: string;
  /** Delegated scopes of the person's Graph tokens. */
  scopes: string[];
  /** Directory roles the person holds (in the home tenant). */
  roles: string[];
  /** The person's guest accounts in other tenants, by tenant id (lower case). */
  guestOf: Record<string, GuestAccount>;
}

/** A person's B2B guest user in a resource tenant. */
export interface GuestAccount {
  /** The guest user's object id in that tenant (another object than the home user). */
  objectId: string;
  /** Directory roles the guest holds in that tenant. */
  roles: string[];
}

export function createOperator(): OperatorIdentity {
  return {
    clientId: "04b07795-0000-4000-8000-0000000000c1",
    objectId: "0a0b0c0d-0000-4000-8000-0000000000c2",
    upn: "operator@sandbox.rollover.test",
    displayName: "Sandbox Operator",
    secret: randomBytes(24).toString("base64url"),
    // Agent identity blueprints take their own permission for writes (agentidentityblueprint-update.md).
    scopes: [
      "Application.ReadWrite.All",
      "AgentIdentityBlueprint.ReadWrite.All",
      "AuditLog.Read.All",
      "Policy.Read.All",
    ],
    roles: [DIRECTORY_ROLES.applicationAdministrator],
    guestOf: {},
  };
}

export function operatorSecretMatches(op: OperatorIdentity, given: string): boolean {
  const a = Buffer.from(op.secret, "utf8");
  const b = Buffer.from(given, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The application permissions a delegated caller effectively holds on Graph: the scope, limited
 * by the user's directory roles. `Application.ReadWrite.All` without an application
 * administrator role only reaches applications the user owns (as `Application.ReadWrite.OwnedBy`).
 */
export function effectiveDelegatedRoles(scopes: readonly string[], roles: readonly string[]): string[] {
  const admin = roles.some((r) => APPLICATION_ADMIN_ROLES.includes(r));
  const out = new Set<string>();
  for (const s of scopes) {
    if (s === "Application.ReadWrite.All") {
      out.add(admin ? "Application.ReadWrite.All" : "Application.ReadWrite.OwnedBy");
      out.add("Application.Read.All");
    } else out.add(s);
  }
  return [...out];
}
