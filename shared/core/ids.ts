/**
 * GUIDs (tenant, client and object ids) are compared case-insensitively everywhere: Entra treats
 * them so, and an operator may paste `AZURE_TENANT_ID` in upper case. Settings and tags are
 * normalized to lower case on load; `sameTenant` is the one comparison of tenants.
 */

/** A GUID in the form Rollover keeps: trimmed, lower case. */
export function normalizeGuid(id: string): string {
  return id.trim().toLowerCase();
}

/** Whether two tenant ids name the same tenant (case and surrounding space do not matter). */
export function sameTenant(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return normalizeGuid(a) === normalizeGuid(b);
}
