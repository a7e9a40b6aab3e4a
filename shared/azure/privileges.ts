/**
 * Which application permissions (Microsoft Graph app roles) the tenant's service principals hold,
 * read with Application.Read.All. An application's grants are held by its service principal.
 *
 * Assignments name roles by id. Microsoft Graph's app role ids are the same in every tenant
 * (https://learn.microsoft.com/graph/permissions-reference); the well-known ones are listed here,
 * and other names are looked up in Microsoft Graph's own service principal's `appRoles` when it
 * can be read.
 */
import type { Client, GraphError } from "@microsoft/microsoft-graph-client";
import type { PrivilegeFacts } from "../core/insight.js";

const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";

/** Microsoft Graph's published application permission ids (permissions reference). */
export const GRAPH_APP_ROLE_IDS: Readonly<Record<string, string>> = {
  "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
  "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
  "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
  "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
  "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
  "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
  "RoleManagement.ReadWrite.Directory": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
};

function isStatus(e: unknown, ...codes: number[]): boolean {
  return codes.includes((e as GraphError).statusCode);
}

/** Role id → name for the permissions asked about (unknown names through Graph's own appRoles). */
async function roleNames(client: Client, names: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const unknown: string[] = [];
  for (const n of names) {
    const id = Object.entries(GRAPH_APP_ROLE_IDS).find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1];
    if (id) out.set(id, n);
    else unknown.push(n);
  }
  if (unknown.length > 0) {
    try {
      const sp = (await client
        .api(`/servicePrincipals(appId='${GRAPH_APP_ID}')`)
        .select("appRoles")
        .get()) as {
        appRoles?: Array<{ id: string; value?: string | null }>;
      };
      for (const r of sp.appRoles ?? []) {
        const name = unknown.find((u) => u.toLowerCase() === (r.value ?? "").toLowerCase());
        if (name) out.set(r.id.toLowerCase(), name);
      }
    } catch (e) {
      if (!isStatus(e, 403, 404)) throw e;
    }
  }
  return out;
}

/**
 * The permissions in `names` held by each application (keyed by appId), read once for the whole
 * tenant from Microsoft Graph's side: `GET /servicePrincipals(appId='00000003-…')/appRoleAssignedTo`
 * lists every grant of a Graph app role (one paged read), then each principal that holds one of
 * `names` is looked up for its appId (https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto).
 * An agent identity's permissions count for its blueprint too: the blueprint holds the credentials.
 * `unavailable` on 403.
 */
export async function readPrivileges(client: Client, names: readonly string[]): Promise<PrivilegeFacts> {
  const rolesByAppId: Record<string, string[]> = {};
  if (names.length === 0) return { available: true, rolesByAppId };
  try {
    const byId = await roleNames(client, names);
    const byPrincipal = new Map<string, Set<string>>();
    let url: string | undefined =
      `/servicePrincipals(appId='${GRAPH_APP_ID}')/appRoleAssignedTo?$select=principalId,appRoleId&$top=999`;
    while (url) {
      const page = (await client.api(url).get()) as {
        value?: Array<{ appRoleId?: string; principalId?: string }>;
        "@odata.nextLink"?: string;
      };
      for (const a of page.value ?? []) {
        const name = byId.get((a.appRoleId ?? "").toLowerCase());
        const principal = (a.principalId ?? "").toLowerCase();
        if (!name || !principal) continue;
        const set = byPrincipal.get(principal) ?? new Set<string>();
        set.add(name);
        byPrincipal.set(principal, set);
      }
      url = page["@odata.nextLink"];
    }
    for (const [principal, roles] of byPrincipal) {
      let sp: { appId?: string; agentIdentityBlueprintId?: string | null };
      try {
        // The whole object: an agent identity names its blueprint (agentIdentityBlueprintId),
        // whose credentials are the ones it signs in with.
        sp = (await client.api(`/servicePrincipals/${principal}`).get()) as typeof sp;
      } catch (e) {
        if (isStatus(e, 404)) continue; // deleted since
        throw e;
      }
      for (const appId of [sp.appId, sp.agentIdentityBlueprintId ?? undefined]) {
        if (!appId) continue;
        const key = appId.toLowerCase();
        rolesByAppId[key] = [...new Set([...(rolesByAppId[key] ?? []), ...roles])].sort();
      }
    }
  } catch (e) {
    if (isStatus(e, 403))
      return { available: false, detail: "reading app role assignments needs Application.Read.All" };
    throw e;
  }
  return { available: true, rolesByAppId };
}
