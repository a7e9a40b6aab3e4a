/**
 * Graph's application credential activity report (beta only, global service only):
 *
 *   GET /beta/reports/appCredentialSignInActivities[?$top=&$filter=&$skiptoken=]
 *   GET /beta/reports/appCredentialSignInActivities/{id}
 *
 * Sources: https://learn.microsoft.com/graph/api/reportroot-list-appcredentialsigninactivities?view=graph-rest-beta
 * (permissions: application AuditLog.Read.All, least privileged; Directory.Read.All, higher;
 * `$top`, `$filter`, `$orderby`), https://learn.microsoft.com/graph/api/resources/appcredentialsigninactivity?view=graph-rest-beta
 * (the record's shape; `id` is base64 of `{keyId}|{credentialOrigin}`),
 * https://learn.microsoft.com/graph/api/resources/signinactivity?view=graph-rest-beta.
 *
 * The sandbox builds the report from its own sign-in log (the token endpoint records the keyId of
 * the credential each token was requested with): one record per credential that is still on an
 * application or service principal and has at least one sign-in. A credential nobody ever signed
 * in with has no record, the strictest reading of "recent activity of application credentials".
 */
import type { SandboxResponse } from "../http.js";
import type { SandboxContext, SignInEntry } from "../types.js";
import { GRAPH_APP_ID, GRAPH_RESOURCE } from "../entra/resources.js";
import { APPLICATION_KINDS, type DirObject } from "./directory.js";
import { GraphError } from "./graph-error.js";
import { authorizeRead } from "./auth.js";
import { contextUrl, type GraphRequest, ok } from "./odata.js";
import { badSkipToken, offsetPage, skipTokenStart, topOf } from "./paging.js";

const REPORT_ROLES = ["AuditLog.Read.All", "Directory.Read.All"];
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const REPORT = "reports/appCredentialSignInActivities";

/** Well-known resource URIs to the appId Graph reports as `resourceId`. */
const RESOURCE_APP_IDS: Record<string, string> = {
  [GRAPH_RESOURCE]: GRAPH_APP_ID,
  "https://vault.azure.net": "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
};

interface Activity {
  id: string;
  record: Record<string, unknown>;
}

export async function credentialActivityReport(
  ctx: SandboxContext,
  g: GraphRequest,
): Promise<SandboxResponse> {
  // segments: ["reports", "appCredentialSignInActivities", id?]
  if (g.version !== "beta")
    throw new GraphError(400, "BadRequest", `Resource not found for the segment '${g.segments[1] ?? ""}'.`);
  const caller = await authorizeRead(ctx, g, REPORT_ROLES);
  const all = activities(ctx, caller.tenantId, caller.tenant.objects.values());

  const one = g.segments[2];
  if (one !== undefined) {
    if (g.segments.length > 3)
      throw new GraphError(400, "BadRequest", `Resource not found for the segment '${g.segments[3]}'.`);
    const found = all.find((a) => a.id === one);
    if (!found)
      throw new GraphError(404, "ResourceNotFound", `appCredentialSignInActivity '${one}' was not found.`);
    return ok(
      {
        "@odata.context": contextUrl(ctx, g, `${REPORT}/$entity`),
        ...found.record,
      },
      {},
    );
  }

  if (g.query.has("$orderby"))
    throw new GraphError(
      400,
      "BadRequest",
      "$orderby is not supported by this sandbox (see docs/sandbox.md).",
    );
  const predicate = parseReportFilter(g.query.get("$filter"));
  const size = topOf(g, DEFAULT_PAGE, MAX_PAGE, "BadRequest");
  const start = skipTokenStart(g, badSkipToken);
  const page = offsetPage(ctx, g, all.filter(predicate), start, size, `/${REPORT}`);
  const body: Record<string, unknown> = { "@odata.context": contextUrl(ctx, g, REPORT) };
  if (page.nextLink) body["@odata.nextLink"] = page.nextLink;
  body.value = page.items.map((a) => a.record);
  return ok(body, {});
}

/** `keyId eq '…'` and `appId eq '…'`, joined by `and` (the filters the documentation shows). */
function parseReportFilter(raw: string | undefined): (a: Activity) => boolean {
  if (raw === undefined || raw.trim() === "") return () => true;
  const clauses = raw.trim().split(/\s+and\s+/i);
  const tests: Array<(a: Activity) => boolean> = [];
  for (const c of clauses) {
    const m = /^\(?\s*(keyId|appId)\s+eq\s+'([^']*)'\s*\)?$/i.exec(c.trim());
    if (!m)
      throw new GraphError(
        400,
        "BadRequest",
        `Invalid filter clause '${c.trim()}': only keyId eq '…' and appId eq '…' are supported.`,
      );
    const prop = (m[1] as string).toLowerCase() === "keyid" ? "keyId" : "appId";
    const value = (m[2] as string).toLowerCase();
    tests.push((a) => String(a.record[prop]).toLowerCase() === value);
  }
  return (a) => tests.every((t) => t(a));
}

function activities(ctx: SandboxContext, tenantId: string, objects: Iterable<DirObject>): Activity[] {
  // The latest attempt and the latest success per credential keyId.
  const byKey = new Map<string, { last: SignInEntry; lastOk?: SignInEntry }>();
  for (const e of ctx.signIns.entries()) {
    if (e.tenantId !== tenantId || !e.keyId) continue;
    if (e.credentialType !== "certificate" && e.credentialType !== "secret") continue;
    const k = `${e.clientId}|${e.keyId}`;
    const cur = byKey.get(k);
    const next = { last: cur?.last ?? e, ...(cur?.lastOk ? { lastOk: cur.lastOk } : {}) };
    if (e.time >= next.last.time) next.last = e;
    if (e.success && (!next.lastOk || e.time >= next.lastOk.time)) next.lastOk = e;
    byKey.set(k, next);
  }
  const out: Activity[] = [];
  for (const o of objects) {
    if (o.deleted || o.kind === "managedIdentity" || o.kind === "agentIdentity") continue;
    const origin = APPLICATION_KINDS.has(o.kind) ? "application" : "servicePrincipal";
    const sp =
      origin === "application" ? ctx.directory.findByAppId(tenantId, o.appId, "servicePrincipal") : o;
    const creds = [
      ...o.keyCredentials.map((k) => ({ keyId: k.keyId, type: "certificate", usage: "verify", k })),
      ...o.passwordCredentials.map((k) => ({ keyId: k.keyId, type: "clientSecret", usage: "sign", k })),
    ];
    for (const c of creds) {
      const hit = byKey.get(`${o.appId}|${c.keyId}`);
      if (!hit) continue;
      const id = Buffer.from(`${c.keyId}|${origin}`).toString("base64");
      out.push({
        id,
        record: {
          id,
          appId: o.appId,
          appObjectId: origin === "application" ? o.id : null,
          servicePrincipalObjectId: sp?.id ?? null,
          credentialOrigin: origin,
          keyId: c.keyId,
          keyType: c.type,
          keyUsage: c.usage,
          createdDateTime: c.k.startDateTime,
          expirationDateTime: c.k.endDateTime,
          resourceId: RESOURCE_APP_IDS[hit.last.resource] ?? hit.last.resource,
          signInActivity: {
            lastSignInDateTime: hit.last.time,
            lastSignInRequestId: hit.last.requestId ?? null,
            lastSuccessfulSignInDateTime: hit.lastOk?.time ?? null,
            lastSuccessfulSignInRequestId: hit.lastOk?.requestId ?? null,
          },
        },
      });
    }
  }
  return out;
}
