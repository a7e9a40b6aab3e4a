/**
 * `GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')/appRoleAssignedTo`: every
 * grant of a Microsoft Graph app role in the tenant, listed from the resource's side, as Graph
 * lists them (https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto;
 * permission Application.Read.All, or higher; `$top` and `@odata.nextLink` paging). One paged read
 * answers "who holds which Graph application permission" for the whole tenant.
 *
 * The directory keeps grants as role values on each principal; every grant is a Microsoft Graph
 * app role (see appRoleAssignments.ts for the ids). Only the `appId` key form of Microsoft Graph's
 * service principal is served: the sandbox does not list that principal as an object.
 */
import type { SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import { GRAPH_APP_ID } from "../entra/resources.js";
import { assignmentJson, assignmentSelect } from "./appRoleAssignments.js";
import { authorizeRead, READ_ROLES } from "./auth.js";
import type { DirObject } from "./directory.js";
import { contextUrl, type GraphRequest, ok, pick } from "./odata.js";
import { offsetPage, refuseQueries, skipTokenStart, topOf } from "./paging.js";

export async function graphAppRoleAssignedTo(ctx: SandboxContext, g: GraphRequest): Promise<SandboxResponse> {
  const caller = await authorizeRead(ctx, g, READ_ROLES);
  refuseQueries(g, "appRoleAssignedTo");
  const select = assignmentSelect(g);
  const size = topOf(g, 100);
  const start = skipTokenStart(g);
  const all: Array<[DirObject, string]> = [];
  for (const o of caller.tenant.servicePrincipals) {
    if (o.deleted) continue;
    for (const role of o.appRoles) all.push([o, role]);
  }
  const self = `/servicePrincipals(appId='${GRAPH_APP_ID}')/appRoleAssignedTo`;
  const body: Record<string, unknown> = { "@odata.context": contextUrl(ctx, g, self.slice(1)) };
  const page = offsetPage(ctx, g, all, start, size, self);
  if (page.nextLink) body["@odata.nextLink"] = page.nextLink;
  body.value = page.items.map(([o, role]) => pick(assignmentJson(o, role), select));
  return ok(body, {});
}
