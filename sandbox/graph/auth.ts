/**
 * Who is calling Graph and what they may do: the bearer token's checks (401 with Graph's
 * `WWW-Authenticate` challenge), the permissions each read and write takes (403
 * Authorization_RequestDenied), and the throttle every request is charged to (429; throttle.ts).
 */
import { bearerToken, type SandboxRequest } from "../http.js";
import { TokenError } from "../tokens.js";
import type { SandboxContext } from "../types.js";
import { effectiveDelegatedRoles } from "../entra/operator.js";
import { GRAPH_APP_ID, GRAPH_RESOURCE, verifySandboxToken } from "../entra/resources.js";
import { APPLICATION_KINDS, type DirObject, type Tenant } from "./directory.js";
import { GraphError } from "./graph-error.js";
import { type GraphRequest, methodNotAllowed } from "./odata.js";
import { graphState } from "./state.js";

export interface Caller {
  tenantId: string;
  tenant: Tenant;
  oid: string;
  appid: string;
  roles: Set<string>;
}

/** The permissions that read every application and service principal (application-list.md). */
export const READ_ROLES = [
  "Application.Read.All",
  "Application.ReadWrite.All",
  "Application.ReadWrite.OwnedBy",
  "Directory.Read.All",
  "Directory.ReadWrite.All",
];
/** The permissions that create applications and service principals (application-post-applications.md). */
export const APPLICATION_WRITE_ROLES = ["Application.ReadWrite.All", "Application.ReadWrite.OwnedBy"];
const BLUEPRINT_READ_ROLES = [
  "AgentIdentityBlueprint.Read.All",
  "AgentIdentityBlueprint.ReadWrite.All",
  "AgentIdentityBlueprint.AddRemoveCreds.All",
];
const AGENT_READ_ROLES = ["AgentIdentity.Read.All", "AgentIdentity.ReadWrite.All"];

export async function authenticate(ctx: SandboxContext, g: GraphRequest): Promise<Caller> {
  const header = g.headers.authorization;
  const token = bearerToken({ headers: g.headers } as SandboxRequest);
  const challenge = {
    "WWW-Authenticate": `Bearer realm="", authorization_uri="${ctx.urls.authorityHost}/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
  };
  if (!header || !token)
    throw new GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge);
  let claims: Record<string, unknown>;
  try {
    claims = (await verifySandboxToken(ctx, token, [GRAPH_RESOURCE, GRAPH_APP_ID])) as Record<
      string,
      unknown
    >;
  } catch (e) {
    const reason = e instanceof TokenError ? e.reason : "malformed";
    const message =
      reason === "expired"
        ? "Lifetime validation failed, the token is expired."
        : reason === "audience"
          ? "Access token validation failure. Invalid audience."
          : reason === "signature"
            ? "Access token validation failure. Invalid signature."
            : "IDX14100: JWT is not well formed, there are no dots (.).";
    throw new GraphError(401, "InvalidAuthenticationToken", message, challenge);
  }
  const tenantId = String(claims.tid ?? "").toLowerCase();
  const tenant = graphState(ctx).dir.tenant(tenantId);
  if (!tenant)
    throw new GraphError(
      401,
      "InvalidAuthenticationToken",
      "Access token validation failure. Invalid tenant.",
      challenge,
    );
  // App-only tokens carry application permissions in `roles`; a person's delegated token carries
  // `scp` and their directory roles in `wids`, which together decide what they may do (operator.ts).
  const roles =
    claims.idtyp === "user"
      ? effectiveDelegatedRoles(
          String(claims.scp ?? "")
            .split(" ")
            .filter(Boolean),
          Array.isArray(claims.wids) ? claims.wids.map(String) : [],
        )
      : Array.isArray(claims.roles)
        ? claims.roles.map(String)
        : [];
  return {
    tenantId,
    tenant,
    oid: String(claims.oid ?? "").toLowerCase(),
    appid: String(claims.appid ?? "").toLowerCase(),
    roles: new Set(roles),
  };
}

export function denied(): GraphError {
  return new GraphError(
    403,
    "Authorization_RequestDenied",
    "Insufficient privileges to complete the operation.",
  );
}

/**
 * A read-only route: GET only (405 otherwise, as Graph answers), and a caller holding one of
 * `roles` (403 Authorization_RequestDenied otherwise).
 */
export async function authorizeRead(
  ctx: SandboxContext,
  g: GraphRequest,
  roles: readonly string[],
): Promise<Caller> {
  if (g.method.toUpperCase() !== "GET") throw methodNotAllowed();
  const caller = await authenticate(ctx, g);
  if (!hasAny(caller, roles)) throw denied();
  return caller;
}

export function hasAny(c: Caller, roles: readonly string[]): boolean {
  return roles.some((r) => c.roles.has(r));
}

/** Listing a collection, or one of its type casts (`/applications/microsoft.graph.agentIdentityBlueprint`). */
export function canReadCollection(c: Caller, cast?: string): boolean {
  if (hasAny(c, READ_ROLES)) return true;
  if (cast === "agentIdentityBlueprint" || cast === "agentIdentityBlueprintPrincipal")
    return hasAny(c, BLUEPRINT_READ_ROLES);
  if (cast === "agentIdentity") return hasAny(c, AGENT_READ_ROLES);
  return false;
}

export function canRead(c: Caller, o: DirObject): boolean {
  if (hasAny(c, READ_ROLES)) return true;
  if (o.kind === "agentIdentityBlueprint" || o.kind === "agentIdentityBlueprintPrincipal")
    return hasAny(c, BLUEPRINT_READ_ROLES) || o.owners.includes(c.oid);
  if (o.kind === "agentIdentity") return hasAny(c, AGENT_READ_ROLES) || c.appid === o.blueprintAppId;
  return false;
}

/** Whether the caller is the object itself (an app rolling its own keys needs no permission). */
function isSelf(c: Caller, o: DirObject): boolean {
  return APPLICATION_KINDS.has(o.kind) ? c.appid === o.appId : c.oid === o.id;
}

function isBlueprintKind(o: DirObject): boolean {
  return o.kind === "agentIdentityBlueprint" || o.kind === "agentIdentityBlueprintPrincipal";
}

/**
 * Application.ReadWrite.All, or Application.ReadWrite.OwnedBy on an object the caller owns
 * (application-update.md; permissions notes for Application.ReadWrite.OwnedBy: "manage apps that
 * this app creates or owns").
 */
export function applicationWriter(c: Caller, o: DirObject): boolean {
  if (c.roles.has("Application.ReadWrite.All")) return true;
  return c.roles.has("Application.ReadWrite.OwnedBy") && o.owners.includes(c.oid);
}

/**
 * Writes: Application.ReadWrite.All, or Application.ReadWrite.OwnedBy on objects the caller owns
 * (application-update.md; permissions notes for Application.ReadWrite.OwnedBy).
 *
 * Agent identity blueprints take only the AgentIdentityBlueprint permissions: addKey, removeKey,
 * addPassword, removePassword and PATCH of credentials list AgentIdentityBlueprint.AddRemoveCreds.All
 * (least) and AgentIdentityBlueprint.ReadWrite.All (microsoft-graph-docs-contrib
 * api-reference/v1.0/includes/permissions/agentidentityblueprint-addkey-permissions.md,
 * -removekey-, -update-permissions.md; PATCH of other properties also takes
 * AgentIdentityBlueprint.UpdateBranding.All). Application.ReadWrite.OwnedBy / .All are not listed,
 * so they do not cover blueprints here.
 */
export function canWrite(c: Caller, o: DirObject, credentials = false): boolean {
  if (isBlueprintKind(o)) {
    if (c.roles.has("AgentIdentityBlueprint.ReadWrite.All")) return true;
    return credentials
      ? c.roles.has("AgentIdentityBlueprint.AddRemoveCreds.All")
      : c.roles.has("AgentIdentityBlueprint.UpdateBranding.All");
  }
  if (applicationWriter(c, o)) return true;
  if (
    o.kind === "agentIdentity" &&
    (c.roles.has("AgentIdentity.ReadWrite.All") || c.appid === o.blueprintAppId)
  )
    return true;
  return false;
}

/**
 * addKey/removeKey as the object itself. An application "does not need any specific permission
 * to roll its own keys" (application-addkey.md, application-removekey.md). The blueprint pages
 * (agentidentityblueprint-addkey.md, -removekey.md) carry no such note and list only the
 * AgentIdentityBlueprint permissions, so a blueprint rolling its own key needs one of them in its
 * own token, like any other caller: the strictest reading of what is documented.
 */
export function canRollKeys(c: Caller, o: DirObject): boolean {
  if (isSelf(c, o) && !isBlueprintKind(o)) return true;
  return canWrite(c, o, true);
}

/**
 * Charges a request to the throttle (throttle.ts) in resource units as Graph costs them
 * (throttling-limits.md, "Identity and access service limits"): a read 1, a list 2, `$select` and
 * a `$top` under 20 one less each, `$expand` one more; a write 1, and it counts against the write
 * limits. Throws 429 with `Retry-After` when a limit is reached; returns the headers to answer with.
 */
export function charge(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  opts: { list?: boolean; write?: boolean; keySelect?: boolean },
): Record<string, string> {
  let cost = opts.write ? 1 : opts.list ? 2 : 1;
  if (!opts.write) {
    if (g.query.has("$select")) cost -= 1;
    const top = Number(g.query.get("$top"));
    if (Number.isFinite(top) && top > 0 && top < 20) cost -= 1;
    if (g.query.has("$expand")) cost += 1;
  }
  const verdict = graphState(ctx).throttle.charge({
    tenantId: c.tenantId,
    appId: c.appid,
    resourceUnits: Math.max(1, cost),
    write: opts.write ?? false,
    keyCredentialSelect: opts.keySelect ?? false,
  });
  if (!verdict.ok)
    throw new GraphError(
      429,
      "TooManyRequests",
      `Too many requests. Retry after ${verdict.retryAfter} seconds.`,
      verdict.headers,
    );
  return verdict.headers;
}
