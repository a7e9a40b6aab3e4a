/**
 * Rollover's Microsoft Graph grants (application permissions, i.e. app role assignments on its
 * service principal): which it needs, which are missing, and the admin step that grants them.
 *
 * - Application.Read.All, always: reading targets and sweeping the tenant.
 * - Application.ReadWrite.OwnedBy, in managed mode only: replacing the keys of targets it owns.
 *
 * Role ids: Microsoft Graph permissions reference (https://learn.microsoft.com/graph/permissions-reference).
 * Granting: POST /servicePrincipals/{id}/appRoleAssignments (serviceprincipal-post-approleassignments),
 * which takes AppRoleAssignment.ReadWrite.All and Application.Read.All, an admin's step.
 */

/** Microsoft Graph's application id (the same in every cloud). */
export const MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";

export const GRAPH_ROLES = {
  "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
  "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
  "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
} as const;

export type GraphRole = keyof typeof GRAPH_ROLES;

/** The Graph roles Rollover needs. */
export function requiredGraphRoles(opts: { managedMode: boolean }): GraphRole[] {
  return opts.managedMode
    ? ["Application.Read.All", "Application.ReadWrite.OwnedBy"]
    : ["Application.Read.All"];
}

/** The needed roles not among the assigned app role ids (ids compare case-insensitively). */
export function missingGraphRoles(
  assignedRoleIds: readonly string[],
  needed: readonly GraphRole[],
): GraphRole[] {
  const have = new Set(assignedRoleIds.map((id) => id.toLowerCase()));
  return needed.filter((r) => !have.has(GRAPH_ROLES[r]));
}

/**
 * The admin step, for people: Azure CLI (`az rest`), Microsoft Graph PowerShell, and where the
 * portal shows it. `graphBaseUrl` keeps national clouds right.
 */
export function grantInstructions(opts: {
  principalId: string;
  roles: readonly GraphRole[];
  graphBaseUrl: string;
}): string {
  const graph = opts.graphBaseUrl.replace(/\/+$/, "");
  const lines: string[] = [
    `An administrator (Privileged Role Administrator or Global Administrator) grants Rollover's identity ${opts.roles.join(" and ")}:`,
    "",
    "  Azure CLI:",
    `    graphSp=$(az ad sp show --id ${MICROSOFT_GRAPH_APP_ID} --query id -o tsv)`,
  ];
  for (const r of opts.roles) {
    lines.push(
      `    az rest --method POST --uri ${graph}/v1.0/servicePrincipals/${opts.principalId}/appRoleAssignments \\`,
      `      --headers Content-Type=application/json \\`,
      `      --body "{\\"principalId\\":\\"${opts.principalId}\\",\\"resourceId\\":\\"$graphSp\\",\\"appRoleId\\":\\"${GRAPH_ROLES[r]}\\"}"   # ${r}`,
    );
  }
  lines.push(
    "",
    "  Microsoft Graph PowerShell:",
    "    Connect-MgGraph -Scopes AppRoleAssignment.ReadWrite.All,Application.Read.All",
    `    $graphSp = Get-MgServicePrincipal -Filter "appId eq '${MICROSOFT_GRAPH_APP_ID}'"`,
  );
  for (const r of opts.roles) {
    lines.push(
      `    New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId ${opts.principalId} -PrincipalId ${opts.principalId} -ResourceId $graphSp.Id -AppRoleId ${GRAPH_ROLES[r]}   # ${r}`,
    );
  }
  lines.push(
    "",
    "  Portal: Microsoft Entra admin center → Enterprise applications → Application type: Managed Identities →",
    `    (object id ${opts.principalId}) → Security → Permissions shows the grants; a managed identity's`,
    "    application permissions are granted with one of the commands above (the portal has no button for it).",
  );
  return lines.join("\n");
}
