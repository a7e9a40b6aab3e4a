/**
 * App management policies: the tenant's default policy and policies assigned to single
 * applications or service principals, read through Graph and enforced when credentials are added.
 *
 *   GET /{v1.0|beta}/policies/defaultAppManagementPolicy
 *   GET /{v1.0|beta}/policies/appManagementPolicies[/{id}[/appliesTo]]
 *
 * Sources: https://learn.microsoft.com/graph/api/tenantappmanagementpolicy-get (permission
 * Policy.Read.All; Policy.ReadWrite.ApplicationConfiguration higher),
 * https://learn.microsoft.com/graph/api/appmanagementpolicy-list,
 * https://learn.microsoft.com/graph/api/appmanagementpolicy-list-appliesto (Policy.Read.All and
 * Application.Read.All), https://learn.microsoft.com/graph/api/resources/appmanagementpolicy
 * ("an app policy applied to an application or service principal takes precedence over the
 * tenant default"), https://learn.microsoft.com/graph/api/resources/passwordcredentialconfiguration
 * and keycredentialconfiguration (restrictionType, state, maxLifetime,
 * restrictForAppsCreatedAfterDateTime). The errors Graph answers when a credential breaks a policy
 * (`CredentialInvalidLifetimeAsPerAppPolicy`, `CredentialTypeNotAllowedAsPerAppPolicy`, 400) are
 * as tenants see them (e.g. github.com/Azure/azure-cli/issues/28522).
 *
 * Policies live with the tenant object, so a reseed (a new directory) forgets them.
 */
import { randomUUID } from "node:crypto";
import type { SandboxContext } from "../types.js";
import { APPLICATION_KINDS, type DirObject, type Tenant } from "./directory.js";
import { GraphError } from "./graph-error.js";
import type { SandboxResponse } from "../http.js";
import { authorizeRead, denied, hasAny } from "./auth.js";
import { encodeToken, ODATA_TYPES } from "./model.js";
import { contextUrl, type GraphRequest, notFound, ok } from "./odata.js";
import { badSkipToken, link, skipTokenStart, topOf } from "./paging.js";
import { graphState } from "./state.js";

export interface CredentialRestriction {
  restrictionType: string;
  state?: "enabled" | "disabled";
  /** ISO 8601 duration, e.g. `P90D`. */
  maxLifetime?: string | null;
  restrictForAppsCreatedAfterDateTime?: string | null;
}

export interface RestrictionSet {
  passwordCredentials?: CredentialRestriction[];
  keyCredentials?: CredentialRestriction[];
}

export interface DefaultPolicyInit {
  isEnabled?: boolean;
  applicationRestrictions?: RestrictionSet;
  servicePrincipalRestrictions?: RestrictionSet;
}

export interface AppPolicyInit {
  id?: string;
  displayName: string;
  description?: string;
  isEnabled?: boolean;
  restrictions: RestrictionSet;
  /** Object ids of the applications and service principals it is assigned to. */
  appliesTo?: string[];
}

interface AppPolicy {
  id: string;
  displayName: string;
  description: string;
  isEnabled: boolean;
  restrictions: RestrictionSet;
  appliesTo: string[];
}

interface PolicyState {
  default: Required<DefaultPolicyInit>;
  policies: AppPolicy[];
}

export const DEFAULT_POLICY_ID = "00000000-0000-0000-0000-000000000000";
const POLICY_READ_ROLES = ["Policy.Read.All", "Policy.ReadWrite.ApplicationConfiguration"];
const DIRECTORY_READ_ROLES = [
  "Application.Read.All",
  "Application.ReadWrite.All",
  "Directory.Read.All",
  "Directory.ReadWrite.All",
];
const policyStates = new WeakMap<Tenant, PolicyState>();

function state(tenant: Tenant): PolicyState {
  let s = policyStates.get(tenant);
  if (!s) {
    s = {
      default: { isEnabled: true, applicationRestrictions: {}, servicePrincipalRestrictions: {} },
      policies: [],
    };
    policyStates.set(tenant, s);
  }
  return s;
}

function tenantOf(ctx: SandboxContext, tenantId: string): Tenant {
  const t = graphState(ctx).dir.tenant(tenantId.toLowerCase());
  if (!t) throw new Error(`no tenant ${tenantId}`);
  return t;
}

/** Sets the tenant's default app management policy (seeds and tests). */
export function setDefaultAppManagementPolicy(
  ctx: SandboxContext,
  tenantId: string,
  init: DefaultPolicyInit,
): void {
  const s = state(tenantOf(ctx, tenantId));
  s.default = {
    isEnabled: init.isEnabled ?? true,
    applicationRestrictions: init.applicationRestrictions ?? {},
    servicePrincipalRestrictions: init.servicePrincipalRestrictions ?? {},
  };
}

/** Creates an app management policy and assigns it to objects (seeds and tests). */
export function addAppManagementPolicy(ctx: SandboxContext, tenantId: string, init: AppPolicyInit): string {
  const s = state(tenantOf(ctx, tenantId));
  const id = (init.id ?? randomUUID()).toLowerCase();
  s.policies.push({
    id,
    displayName: init.displayName,
    description: init.description ?? "",
    isEnabled: init.isEnabled ?? true,
    restrictions: init.restrictions,
    appliesTo: (init.appliesTo ?? []).map((x) => x.toLowerCase()),
  });
  return id;
}

/** ISO 8601 duration to milliseconds (years of 365 days, months of 30); undefined if malformed. */
export function durationMs(d: string | null | undefined): number | undefined {
  if (!d) return undefined;
  const m =
    /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      d,
    );
  if (!m || d === "P" || d.endsWith("T")) return undefined;
  const n = (i: number) => Number(m[i] ?? 0);
  const day = 86_400_000;
  return (
    n(1) * 365 * day +
    n(2) * 30 * day +
    n(3) * 7 * day +
    n(4) * day +
    n(5) * 3_600_000 +
    n(6) * 60_000 +
    n(7) * 1000
  );
}

/** The policy in force for an object: its own (enabled) policy, else the enabled tenant default. */
function effective(ctx: SandboxContext, o: DirObject): { id: string; set: RestrictionSet } | undefined {
  const t = graphState(ctx).dir.tenant(o.tenantId);
  if (!t) return undefined;
  const s = policyStates.get(t);
  if (!s) return undefined;
  const own = s.policies.find((p) => p.isEnabled && p.appliesTo.includes(o.id));
  if (own) return { id: own.id, set: own.restrictions };
  if (!s.default.isEnabled) return undefined;
  return {
    id: DEFAULT_POLICY_ID,
    set: APPLICATION_KINDS.has(o.kind)
      ? s.default.applicationRestrictions
      : s.default.servicePrincipalRestrictions,
  };
}

function applies(r: CredentialRestriction, o: DirObject): boolean {
  if ((r.state ?? "enabled") !== "enabled") return false;
  const after = r.restrictForAppsCreatedAfterDateTime;
  return !after || Date.parse(o.createdDateTime) > Date.parse(after);
}

function lifetimeError(policyId: string): GraphError {
  return new GraphError(
    400,
    "CredentialInvalidLifetimeAsPerAppPolicy",
    `Credential lifetime exceeds the max value allowed as per assigned policy '${policyId}'.`,
  );
}

/** Throws Graph's error when a new certificate's lifetime breaks an `asymmetricKeyLifetime` restriction. */
export function enforceKeyCredential(ctx: SandboxContext, o: DirObject, start: string, end: string): void {
  const p = effective(ctx, o);
  if (!p) return;
  for (const r of p.set.keyCredentials ?? []) {
    if (r.restrictionType !== "asymmetricKeyLifetime" || !applies(r, o)) continue;
    const max = durationMs(r.maxLifetime);
    if (max !== undefined && Date.parse(end) - Date.parse(start) > max) throw lifetimeError(p.id);
  }
}

/** Throws Graph's error when a new client secret breaks `passwordAddition` or `passwordLifetime`. */
export function enforcePasswordCredential(
  ctx: SandboxContext,
  o: DirObject,
  start: string,
  end: string,
): void {
  const p = effective(ctx, o);
  if (!p) return;
  for (const r of p.set.passwordCredentials ?? []) {
    if (!applies(r, o)) continue;
    if (r.restrictionType === "passwordAddition")
      throw new GraphError(
        400,
        "CredentialTypeNotAllowedAsPerAppPolicy",
        `Password addition is not allowed as per assigned policy '${p.id}'.`,
      );
    if (r.restrictionType === "passwordLifetime") {
      const max = durationMs(r.maxLifetime);
      if (max !== undefined && Date.parse(end) - Date.parse(start) > max) throw lifetimeError(p.id);
    }
  }
}

function restrictionJson(set: RestrictionSet, kind: "password" | "key"): Record<string, unknown>[] {
  const list = (kind === "password" ? set.passwordCredentials : set.keyCredentials) ?? [];
  return list.map((r) => ({
    restrictionType: r.restrictionType,
    state: r.state ?? "enabled",
    maxLifetime: r.maxLifetime ?? null,
    restrictForAppsCreatedAfterDateTime: r.restrictForAppsCreatedAfterDateTime ?? null,
    ...(kind === "key" ? { certificateBasedApplicationConfigurationIds: [] } : {}),
  }));
}

function restrictionsJson(set: RestrictionSet): Record<string, unknown> {
  return {
    passwordCredentials: restrictionJson(set, "password"),
    keyCredentials: restrictionJson(set, "key"),
  };
}

function policyJson(p: AppPolicy): Record<string, unknown> {
  return {
    id: p.id,
    displayName: p.displayName,
    description: p.description,
    isEnabled: p.isEnabled,
    restrictions: restrictionsJson(p.restrictions),
  };
}

/** The `/policies/…` routes Rollover reads. */
export async function appManagementPolicyRoutes(
  ctx: SandboxContext,
  g: GraphRequest,
): Promise<SandboxResponse> {
  const caller = await authorizeRead(ctx, g, POLICY_READ_ROLES);
  const s = state(caller.tenant);
  const [, what, id, rel, ...more] = g.segments; // ["policies", what, id?, "appliesTo"?]
  if (what === "defaultAppManagementPolicy" && id === undefined) {
    return ok(
      {
        "@odata.context": contextUrl(ctx, g, "policies/defaultAppManagementPolicy/$entity"),
        id: DEFAULT_POLICY_ID,
        displayName: "Default app management tenant policy",
        description:
          "Default tenant policy that enforces app management restrictions on applications and service principals.",
        isEnabled: s.default.isEnabled,
        applicationRestrictions: restrictionsJson(s.default.applicationRestrictions),
        servicePrincipalRestrictions: restrictionsJson(s.default.servicePrincipalRestrictions),
      },
      {},
    );
  }
  if (what !== "appManagementPolicies" || more.length > 0)
    throw new GraphError(
      400,
      "BadRequest",
      `Resource not found for the segment '${g.segments.slice(1).join("/")}'.`,
    );
  if (id === undefined) return page(ctx, g, "policies/appManagementPolicies", s.policies.map(policyJson));
  const p = s.policies.find((x) => x.id === id.toLowerCase());
  if (!p) throw notFound(id);
  if (rel === undefined)
    return ok(
      { "@odata.context": contextUrl(ctx, g, "policies/appManagementPolicies/$entity"), ...policyJson(p) },
      {},
    );
  if (rel !== "appliesTo")
    throw new GraphError(400, "BadRequest", `Resource not found for the segment '${rel}'.`);
  if (!hasAny(caller, DIRECTORY_READ_ROLES)) throw denied();
  const items = p.appliesTo
    .map((oid) => caller.tenant.objects.get(oid))
    .filter((o): o is DirObject => o !== undefined && !o.deleted)
    .map((o) => ({
      "@odata.type": ODATA_TYPES[o.kind],
      id: o.id,
      appId: o.appId,
      displayName: o.displayName,
    }));
  return page(ctx, g, `policies/appManagementPolicies/${p.id}/appliesTo`, items);
}

/** A page of `items`; the nextLink carries only `$top` and `$skiptoken`. */
function page(
  ctx: SandboxContext,
  g: GraphRequest,
  path: string,
  items: Record<string, unknown>[],
): SandboxResponse {
  const size = topOf(g, 100, 999, "BadRequest");
  const start = skipTokenStart(g, badSkipToken);
  const body: Record<string, unknown> = { "@odata.context": contextUrl(ctx, g, path) };
  if (start + size < items.length)
    body["@odata.nextLink"] = link(
      ctx,
      g,
      { $top: String(size), $skiptoken: encodeToken({ i: start + size }) },
      false,
      `/${path}`,
    );
  body.value = items.slice(start, start + size);
  return ok(body, {});
}
