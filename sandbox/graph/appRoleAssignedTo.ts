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
import { createHash } from "node:crypto";
import type { SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import { graphAppRoleId, graphResourceId } from "./appRoleAssignments.js";
import { GraphError } from "./graph-error.js";
import { encodeToken } from "./model.js";
import { authorizeRead, type GraphRequest, skipTokenStart } from "./routes.js";

export const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";

const READ_ROLES = [
  "Application.Read.All",
  "Application.ReadWrite.All",
  "Application.ReadWrite.OwnedBy",
  "Directory.Read.All",
  "Directory.ReadWrite.All",
];

export async function graphAppRoleAssignedTo(ctx: SandboxContext, g: GraphRequest): Promise<SandboxResponse> {
  const caller = await authorizeRead(ctx, g, READ_ROLES);
  for (const q of ["$filter", "$orderby", "$search", "$expand"])
    if (g.query.has(q))
      throw new GraphError(
        400,
        "Request_UnsupportedQuery",
        `The sandbox does not evaluate ${q} on appRoleAssignedTo.`,
      );
  const topRaw = g.query.get("$top");
  const size = topRaw === undefined ? 100 : Number(topRaw);
  if (!Number.isInteger(size) || size < 1 || size > 999)
    throw new GraphError(
      400,
      "Request_BadRequest",
      `Invalid page size specified: '${topRaw}'. Must be between 1 and 999 inclusive.`,
    );
  const start = skipTokenStart(g);
  const resourceId = graphResourceId(caller.tenantId);
  const all: Record<string, unknown>[] = [];
  for (const o of caller.tenant.servicePrincipals) {
    if (o.deleted) continue;
    for (const role of o.appRoles) {
      const appRoleId = graphAppRoleId(role);
      const principal = Buffer.from(o.id.replace(/-/g, ""), "hex");
      const rest = createHash("sha256").update(`${o.id}:${appRoleId}`).digest().subarray(0, 16);
      all.push({
        id: Buffer.concat([principal, rest]).toString("base64url"),
        deletedDateTime: null,
        appRoleId,
        createdDateTime: o.createdDateTime,
        principalDisplayName: o.displayName,
        principalId: o.id,
        principalType: "ServicePrincipal",
        resourceDisplayName: "Microsoft Graph",
        resourceId,
      });
    }
  }
  const base = `${ctx.urls.graphBaseUrl.replace(/\/$/, "")}/${g.version}`;
  const self = `servicePrincipals(appId='${GRAPH_APP_ID}')/appRoleAssignedTo`;
  const body: Record<string, unknown> = { "@odata.context": `${base}/$metadata#${self}` };
  if (start + size < all.length) {
    const params = [...g.query]
      .filter(([k]) => k !== "$skiptoken")
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
    params.push(`$skiptoken=${encodeToken({ i: start + size })}`);
    body["@odata.nextLink"] = `${base}/${self}?${params.join("&")}`;
  }
  const select = g.query
    .get("$select")
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  body.value = all
    .slice(start, start + size)
    .map((a) => (select ? Object.fromEntries(select.map((k) => [k, a[k]])) : a));
  return { status: 200, headers: { "OData-Version": "4.0" }, body };
}
