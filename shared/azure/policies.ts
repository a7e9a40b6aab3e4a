/**
 * App management policies, read into the restrictions Rollover applies (shared/core/insight.ts):
 * the tenant default (`GET /policies/defaultAppManagementPolicy`) and every enabled policy with
 * the objects it is assigned to (`GET /policies/appManagementPolicies`, `…/{id}/appliesTo`).
 * Application permission `Policy.Read.All` (optional): without it the answer is `unavailable`.
 *
 * Sources: https://learn.microsoft.com/graph/api/tenantappmanagementpolicy-get,
 * https://learn.microsoft.com/graph/api/appmanagementpolicy-list,
 * https://learn.microsoft.com/graph/api/appmanagementpolicy-list-appliesto,
 * https://learn.microsoft.com/graph/api/resources/passwordcredentialconfiguration,
 * https://learn.microsoft.com/graph/api/resources/keycredentialconfiguration.
 *
 * `restrictForAppsCreatedAfterDateTime` is not applied: Rollover treats every restriction as in
 * force for every object, the safe reading for a finding and for refusing a renewal.
 */
import type { Client, GraphError } from "@microsoft/microsoft-graph-client";
import type { PolicyFacts, Restrictions } from "../core/insight.js";

interface WireRestriction {
  restrictionType?: string;
  state?: string | null;
  maxLifetime?: string | null;
}

interface WireRestrictionSet {
  passwordCredentials?: WireRestriction[] | null;
  keyCredentials?: WireRestriction[] | null;
}

interface WirePage<T> {
  value?: T[];
  "@odata.nextLink"?: string;
}

const DAY = 86_400_000;

/** ISO 8601 duration to milliseconds (a year is 365 days, a month 30); undefined if malformed. */
export function isoDurationMs(d: string | null | undefined): number | undefined {
  if (!d) return undefined;
  const m =
    /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      d,
    );
  if (!m || d === "P" || d.endsWith("T")) return undefined;
  const n = (i: number) => Number(m[i] ?? 0);
  return (
    n(1) * 365 * DAY +
    n(2) * 30 * DAY +
    n(3) * 7 * DAY +
    n(4) * DAY +
    n(5) * 3_600_000 +
    n(6) * 60_000 +
    n(7) * 1000
  );
}

/** The restrictions Rollover applies, from a policy's restriction set (disabled ones left out). */
export function toRestrictions(set: WireRestrictionSet | null | undefined): Restrictions {
  const out: Restrictions = {};
  const on = (r: WireRestriction) => (r.state ?? "enabled") === "enabled";
  for (const r of set?.passwordCredentials ?? []) {
    if (!on(r)) continue;
    if (r.restrictionType === "passwordAddition") out.passwordAddition = true;
    if (r.restrictionType === "passwordLifetime") {
      const ms = isoDurationMs(r.maxLifetime);
      if (ms !== undefined) out.passwordLifetimeMs = Math.min(out.passwordLifetimeMs ?? ms, ms);
    }
  }
  for (const r of set?.keyCredentials ?? []) {
    if (!on(r) || r.restrictionType !== "asymmetricKeyLifetime") continue;
    const ms = isoDurationMs(r.maxLifetime);
    if (ms !== undefined) out.keyLifetimeMs = Math.min(out.keyLifetimeMs ?? ms, ms);
  }
  return out;
}

async function readAll<T>(client: Client, first: string): Promise<T[]> {
  const out: T[] = [];
  let url: string | undefined = first;
  while (url) {
    const page: WirePage<T> = (await client.api(url).get()) as WirePage<T>;
    out.push(...(page.value ?? []));
    url = page["@odata.nextLink"];
  }
  return out;
}

/** Reads the tenant's app management policies; `unavailable` on 403 (no Policy.Read.All) or 404. */
export async function readAppManagementPolicies(client: Client): Promise<PolicyFacts> {
  try {
    const def = (await client.api("/policies/defaultAppManagementPolicy").get()) as {
      isEnabled?: boolean;
      applicationRestrictions?: WireRestrictionSet | null;
      servicePrincipalRestrictions?: WireRestrictionSet | null;
    };
    const enabled = def.isEnabled !== false;
    const byObjectId: Record<string, Restrictions> = {};
    const policies = await readAll<{ id: string; isEnabled?: boolean; restrictions?: WireRestrictionSet }>(
      client,
      "/policies/appManagementPolicies",
    );
    for (const p of policies) {
      if (p.isEnabled === false) continue;
      const r = toRestrictions(p.restrictions);
      for (const o of await readAll<{ id: string }>(
        client,
        `/policies/appManagementPolicies/${p.id}/appliesTo`,
      ))
        byObjectId[o.id.toLowerCase()] = r;
    }
    return {
      available: true,
      applications: enabled ? toRestrictions(def.applicationRestrictions) : {},
      servicePrincipals: enabled ? toRestrictions(def.servicePrincipalRestrictions) : {},
      byObjectId,
    };
  } catch (e) {
    const status = (e as GraphError).statusCode;
    if (status === 403)
      return {
        available: false,
        detail: "reading app management policies needs the application permission Policy.Read.All",
      };
    if (status === 404) return { available: false, detail: "app management policies are not offered here" };
    throw e;
  }
}
