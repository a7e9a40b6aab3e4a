/**
 * The last sign-in of each application credential, from Graph's application credential activity
 * report (beta, global service only):
 * `GET /beta/reports/appCredentialSignInActivities` — application permission `AuditLog.Read.All`
 * (https://learn.microsoft.com/graph/api/reportroot-list-appcredentialsigninactivities?view=graph-rest-beta,
 * record shape: https://learn.microsoft.com/graph/api/resources/appcredentialsigninactivity?view=graph-rest-beta).
 *
 * The permission is optional: without it (403), where the report does not exist (404), or in a
 * national cloud (the API is not deployed there), the answer is `unavailable` with a reason, never
 * an error. A credential with no record had no sign-in the report knows of.
 */
import type { Client, GraphError } from "@microsoft/microsoft-graph-client";
import { parseInstant } from "../core/time.js";

export const SIGN_IN_REPORT_PATH = "/reports/appCredentialSignInActivities";

/** Graph hosts of the national clouds, where the report is not offered. */
const NATIONAL_GRAPH_HOSTS = [
  "graph.microsoft.us",
  "dod-graph.microsoft.us",
  "microsoftgraph.chinacloudapi.cn",
];

export type CredentialSignIns =
  | {
      available: true;
      /** keyId (lower case) → epoch ms of the credential's last sign-in. */
      lastSignIn: Record<string, number>;
    }
  | { available: false; reason: "permission" | "notFound" | "nationalCloud"; detail: string };

interface WireActivity {
  keyId?: string | null;
  signInActivity?: {
    lastSignInDateTime?: string | null;
    lastSuccessfulSignInDateTime?: string | null;
  } | null;
}

interface WirePage {
  value?: WireActivity[];
  "@odata.nextLink"?: string;
}

/** Whether Graph at this base URL is the global service (the sandbox counts as global). */
export function isGlobalGraph(graphBaseUrl: string): boolean {
  return !NATIONAL_GRAPH_HOSTS.includes(new URL(graphBaseUrl).hostname.toLowerCase());
}

/**
 * When a credential was last used to sign in: the last successful sign-in where the report says,
 * else the last sign-in. `undefined` when the record has neither.
 */
export function lastUse(a: WireActivity): number | undefined {
  const s = a.signInActivity;
  if (!s) return undefined;
  if (s.lastSuccessfulSignInDateTime !== undefined)
    return parseInstant(s.lastSuccessfulSignInDateTime ?? undefined);
  return parseInstant(s.lastSignInDateTime ?? undefined);
}

/**
 * Reads the whole report (following `@odata.nextLink`) into the last sign-in per keyId. Errors
 * other than 403/404 (throttling past the client's retries, 5xx) are thrown for the caller.
 */
export async function readCredentialSignIns(
  client: Client,
  graphBaseUrl: string,
  opts: { pageSize?: number } = {},
): Promise<CredentialSignIns> {
  if (!isGlobalGraph(graphBaseUrl))
    return {
      available: false,
      reason: "nationalCloud",
      detail: `the credential activity report is offered only by the global Graph service, not ${new URL(graphBaseUrl).hostname}`,
    };
  const lastSignIn: Record<string, number> = {};
  let url: string | undefined = opts.pageSize
    ? `${SIGN_IN_REPORT_PATH}?$top=${opts.pageSize}`
    : SIGN_IN_REPORT_PATH;
  try {
    while (url) {
      const page: WirePage = (await client.api(url).version("beta").get()) as WirePage;
      for (const a of page.value ?? []) {
        const keyId = a.keyId?.toLowerCase();
        const at = lastUse(a);
        if (!keyId || at === undefined) continue;
        lastSignIn[keyId] = Math.max(lastSignIn[keyId] ?? at, at);
      }
      url = page["@odata.nextLink"];
    }
  } catch (e) {
    const status = (e as GraphError).statusCode;
    if (status === 403)
      return {
        available: false,
        reason: "permission",
        detail: "reading the credential activity report needs the application permission AuditLog.Read.All",
      };
    if (status === 404)
      return {
        available: false,
        reason: "notFound",
        detail: "the credential activity report is not offered here",
      };
    throw e;
  }
  return { available: true, lastSignIn };
}
