/**
 * `GET /servicePrincipals/{id}/appRoleAssignments`: the application permissions granted to a
 * service principal, as Microsoft Graph lists them.
 *
 * Source: https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments
 * (REST spec: msgraph-metadata, `servicePrincipals/{servicePrincipal-id}/appRoleAssignments`).
 * - Permissions (application): least privileged Application.Read.All; higher Application.ReadWrite.All,
 *   Application.ReadWrite.OwnedBy, Directory.Read.All, Directory.ReadWrite.All. Without one: 403
 *   Authorization_RequestDenied. A principal reading its own assignments needs one as well.
 * - Response: `{ "@odata.context": ".../$metadata#servicePrincipals('{id}')/appRoleAssignments",
 *   "value": [appRoleAssignment] }`, paged with `$top` and an absolute `@odata.nextLink`.
 * - appRoleAssignment (https://learn.microsoft.com/graph/api/resources/approleassignment):
 *   id, deletedDateTime, appRoleId, createdDateTime, principalDisplayName, principalId,
 *   principalType ("ServicePrincipal"), resourceDisplayName, resourceId.
 *
 * The directory stores grants as role values (`Application.Read.All`); they are all Microsoft
 * Graph app roles, so `appRoleId` is Microsoft Graph's published id for the value (permissions
 * reference, https://learn.microsoft.com/graph/permissions-reference) and `resourceId` stands for
 * the tenant's Microsoft Graph service principal.
 */
import { createHash } from "node:crypto";
import { canRead, charge, denied } from "./auth.js";
import type { DirObject } from "./directory.js";
import { GraphError } from "./graph-error.js";
import {
  contextUrl,
  type GraphRequest,
  methodNotAllowed,
  ok,
  pick,
  selectedNames,
  withSelect,
} from "./odata.js";
import { offsetPage, pageSize, refuseQueries, skipTokenStart } from "./paging.js";
import type { ObjectRoute } from "./routes.js";

/** Microsoft Graph's application (app role) ids, from the permissions reference. */
export const GRAPH_APP_ROLE_IDS: Readonly<Record<string, string>> = {
  "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
  "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
  "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
  "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
  "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
  "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
  "RoleManagement.ReadWrite.Directory": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
};

/** A GUID-shaped value derived from text (stable across runs). */
function derivedGuid(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The app role id for a role value (a derived id where the sandbox does not know the published one). */
export function graphAppRoleId(role: string): string {
  return GRAPH_APP_ROLE_IDS[role] ?? derivedGuid(`graph-app-role:${role}`);
}

/** The object id standing for Microsoft Graph's service principal in a tenant. */
export function graphResourceId(tenantId: string): string {
  return derivedGuid(`graph-service-principal:${tenantId.toLowerCase()}`);
}

const PROPERTIES = [
  "id",
  "deletedDateTime",
  "appRoleId",
  "createdDateTime",
  "principalDisplayName",
  "principalId",
  "principalType",
  "resourceDisplayName",
  "resourceId",
] as const;

/** The appRoleAssignment granting `role` to the service principal `o`. */
export function assignmentJson(o: DirObject, role: string): Record<string, unknown> {
  const roleId = graphAppRoleId(role);
  // Graph's assignment ids are base64url text (43 characters: 32 bytes); the first 16 bytes are the
  // principal's id, which is what Graph's own ids show.
  const principal = Buffer.from(o.id.replace(/-/g, ""), "hex");
  const rest = createHash("sha256").update(`${o.id}:${roleId}`).digest().subarray(0, 16);
  return {
    id: Buffer.concat([principal, rest]).toString("base64url"),
    deletedDateTime: null,
    appRoleId: roleId,
    createdDateTime: o.createdDateTime,
    principalDisplayName: o.displayName,
    principalId: o.id,
    principalType: "ServicePrincipal",
    resourceDisplayName: "Microsoft Graph",
    resourceId: graphResourceId(o.tenantId),
  };
}

/** The `$select` names of an appRoleAssignment read; an unknown one is refused as Graph refuses it. */
export function assignmentSelect(g: GraphRequest): string[] | undefined {
  const names = selectedNames(g);
  if (names === undefined) return undefined;
  for (const n of names) {
    if (!(PROPERTIES as readonly string[]).includes(n))
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Could not find a property named '${n}' on type 'microsoft.graph.appRoleAssignment'.`,
      );
  }
  return names;
}

export const appRoleAssignments: ObjectRoute = (ctx, g, c, o, tail) => {
  if (tail.length > 0)
    throw new GraphError(400, "BadRequest", `Resource not found for the segment '${tail[0]}'.`);
  if (g.method.toUpperCase() !== "GET") throw methodNotAllowed();
  if (!canRead(c, o)) throw denied();
  refuseQueries(g, "appRoleAssignments");
  const select = assignmentSelect(g);
  const size = pageSize(g, 100);
  const headers = charge(ctx, g, c, { list: true });
  const page = offsetPage(ctx, g, o.appRoles, skipTokenStart(g), size);
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(
      ctx,
      g,
      withSelect(`servicePrincipals('${o.id}')/appRoleAssignments`, select),
    ),
  };
  if (page.nextLink) body["@odata.nextLink"] = page.nextLink;
  body.value = page.items.map((r) => pick(assignmentJson(o, r), select));
  return ok(body, headers);
};
