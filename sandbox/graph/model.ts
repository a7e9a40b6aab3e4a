/**
 * How directory objects look on Graph's wire: property sets per type, `$select`, `@odata.type`
 * for derived types (agentIdentityBlueprint, agentIdentity, agentIdentityBlueprintPrincipal), and
 * the `key` rule of keyCredentials — "Returned only on $select for a single object, that is,
 * GET applications/{applicationId}?$select=keyCredentials …; otherwise, it is always null"
 * (api-reference/v1.0/resources/keycredential.md): so never on a list, a delta page or a read
 * without `$select=keyCredentials` (research graph-entra.md §2.1).
 */
import type { StoredKeyCredential, StoredPasswordCredential } from "../types.js";
import { type DirObject, APPLICATION_KINDS } from "./directory.js";

export type Collection = "applications" | "servicePrincipals";

export const ODATA_TYPES: Record<string, string> = {
  application: "#microsoft.graph.application",
  agentIdentityBlueprint: "#microsoft.graph.agentIdentityBlueprint",
  servicePrincipal: "#microsoft.graph.servicePrincipal",
  managedIdentity: "#microsoft.graph.servicePrincipal",
  agentIdentityBlueprintPrincipal: "#microsoft.graph.agentIdentityBlueprintPrincipal",
  agentIdentity: "#microsoft.graph.agentIdentity",
};

type Getter = (o: DirObject, withKey: boolean) => unknown;

const APP_PROPS: Record<string, Getter> = {
  id: (o) => o.id,
  deletedDateTime: () => null,
  appId: (o) => o.appId,
  applicationTemplateId: () => null,
  createdDateTime: (o) => o.createdDateTime,
  description: () => null,
  disabledByMicrosoftStatus: () => null,
  displayName: (o) => o.displayName,
  groupMembershipClaims: () => null,
  identifierUris: () => [],
  isDeviceOnlyAuthSupported: () => null,
  isFallbackPublicClient: () => null,
  notes: () => null,
  publisherDomain: () => null,
  serviceManagementReference: () => null,
  signInAudience: () => "AzureADMyOrg",
  tags: () => [],
  tokenEncryptionKeyId: () => null,
  uniqueName: () => null,
  keyCredentials: (o, withKey) => o.keyCredentials.map((k) => keyCredentialJson(k, withKey)),
  passwordCredentials: (o) => o.passwordCredentials.map((p) => passwordCredentialJson(p)),
  appRoles: () => [],
  requiredResourceAccess: () => [],
  api: () => null,
  web: () => null,
  spa: () => null,
  publicClient: () => null,
  info: () => null,
  optionalClaims: () => null,
  parentalControlSettings: () => null,
  verifiedPublisher: () => null,
  certification: () => null,
  defaultRedirectUri: () => null,
  addIns: () => [],
};

const SP_PROPS: Record<string, Getter> = {
  id: (o) => o.id,
  deletedDateTime: () => null,
  accountEnabled: () => true,
  alternativeNames: () => [],
  appDisplayName: (o) => o.displayName,
  appDescription: () => null,
  appId: (o) => o.appId,
  appOwnerOrganizationId: (o) => o.tenantId,
  appRoleAssignmentRequired: () => false,
  description: () => null,
  displayName: (o) => o.displayName,
  homepage: () => null,
  notes: () => null,
  servicePrincipalNames: (o) => [o.appId],
  servicePrincipalType: (o) =>
    o.kind === "managedIdentity"
      ? "ManagedIdentity"
      : o.kind === "agentIdentity"
        ? "ServiceIdentity"
        : "Application",
  signInAudience: () => "AzureADMyOrg",
  tags: () => [],
  tokenEncryptionKeyId: () => null,
  keyCredentials: (o, withKey) => o.keyCredentials.map((k) => keyCredentialJson(k, withKey)),
  passwordCredentials: (o) => o.passwordCredentials.map((p) => passwordCredentialJson(p)),
  appRoles: () => [],
  oauth2PermissionScopes: () => [],
  agentIdentityBlueprintId: (o) => o.blueprintAppId ?? null,
};

const LOWER_APP = new Map(Object.keys(APP_PROPS).map((k) => [k.toLowerCase(), k]));
const LOWER_SP = new Map(Object.keys(SP_PROPS).map((k) => [k.toLowerCase(), k]));

export class SelectError extends Error {
  override name = "SelectError";
}

/** Parses `$select` for a collection; throws `SelectError` naming an unknown property. */
export function parseSelect(collection: Collection, raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const lower = collection === "applications" ? LOWER_APP : LOWER_SP;
  const out: string[] = [];
  for (const part of raw.split(",")) {
    const name = part.trim();
    if (!name) continue;
    if (name === "*") return undefined;
    const canonical = lower.get(name.toLowerCase());
    if (!canonical)
      throw new SelectError(
        `Could not find a property named '${name}' on type 'microsoft.graph.${collection === "applications" ? "application" : "servicePrincipal"}'.`,
      );
    if (!out.includes(canonical)) out.push(canonical);
  }
  return out;
}

/** The default property set: every property but agentIdentityBlueprintId on non-agent principals. */
export function defaultPropsOf(o: DirObject): string[] {
  if (APPLICATION_KINDS.has(o.kind)) return Object.keys(APP_PROPS);
  return Object.keys(SP_PROPS).filter((k) => k !== "agentIdentityBlueprintId" || o.kind === "agentIdentity");
}

export function objectJson(
  o: DirObject,
  select: string[] | undefined,
  opts: { forceId?: boolean; withType?: boolean; list?: boolean } = {},
): Record<string, unknown> {
  const props = APPLICATION_KINDS.has(o.kind) ? APP_PROPS : SP_PROPS;
  const out: Record<string, unknown> = {};
  const derived = o.kind !== "application" && o.kind !== "servicePrincipal" && o.kind !== "managedIdentity";
  if (derived || opts.withType) out["@odata.type"] = ODATA_TYPES[o.kind];
  const names = select ?? defaultPropsOf(o);
  const withKey = !opts.list && (select?.includes("keyCredentials") ?? false);
  if (opts.forceId && !names.includes("id")) out.id = o.id;
  for (const n of names) {
    const g = props[n];
    if (g) out[n] = g(o, withKey);
  }
  return out;
}

export function keyCredentialJson(k: StoredKeyCredential, withKey: boolean): Record<string, unknown> {
  return {
    customKeyIdentifier: k.customKeyIdentifier,
    displayName: k.displayName,
    endDateTime: k.endDateTime,
    key: withKey ? Buffer.from(k.key).toString("base64") : null,
    keyId: k.keyId,
    startDateTime: k.startDateTime,
    type: k.type,
    usage: k.usage,
  };
}

export function passwordCredentialJson(
  p: StoredPasswordCredential,
  withSecret = false,
): Record<string, unknown> {
  return {
    customKeyIdentifier: null,
    displayName: p.displayName,
    endDateTime: p.endDateTime,
    hint: p.hint,
    keyId: p.keyId,
    secretText: withSecret ? p.secretText : null,
    startDateTime: p.startDateTime,
  };
}

/** `$filter` support: `eq`/`in` on id, appId, displayName, servicePrincipalType; `startswith(displayName,…)`; `or`. */
export type Predicate = (o: DirObject) => boolean;

export interface ParsedFilter {
  predicate: Predicate;
  /** When the filter only names ids or appIds, the candidates to look up directly. */
  keys?: { ids: string[]; appIds: string[] };
}

export class FilterError extends Error {
  override name = "FilterError";
}

const FILTERABLE = new Map([
  ["id", (o: DirObject) => o.id],
  ["appid", (o: DirObject) => o.appId],
  ["displayname", (o: DirObject) => o.displayName],
  [
    "serviceprincipaltype",
    (o: DirObject) =>
      o.kind === "managedIdentity"
        ? "ManagedIdentity"
        : o.kind === "agentIdentity"
          ? "ServiceIdentity"
          : "Application",
  ],
]);

export function parseFilter(raw: string, resource: string, onlyIds = false): ParsedFilter {
  const clauses = splitOutside(raw.trim(), " or ");
  const preds: Predicate[] = [];
  const ids: string[] = [];
  const appIds: string[] = [];
  let keyOnly = true;
  for (const clauseRaw of clauses) {
    const clause = stripParens(clauseRaw.trim());
    let m = /^([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'$/i.exec(clause);
    if (m) {
      const prop = (m[1] as string).toLowerCase();
      const value = (m[2] as string).replace(/''/g, "'");
      const get = FILTERABLE.get(prop);
      if (!get || (onlyIds && prop !== "id")) throw unsupported(m[1] as string, resource);
      const ci = prop === "id" || prop === "appid";
      preds.push((o) => (ci ? get(o).toLowerCase() === value.toLowerCase() : get(o) === value));
      if (prop === "id") ids.push(value.toLowerCase());
      else if (prop === "appid") appIds.push(value.toLowerCase());
      else keyOnly = false;
      continue;
    }
    m = /^([A-Za-z]+)\s+in\s+\((.*)\)$/i.exec(clause);
    if (m && !onlyIds) {
      const prop = (m[1] as string).toLowerCase();
      const get = FILTERABLE.get(prop);
      if (!get) throw unsupported(m[1] as string, resource);
      const values = [...(m[2] as string).matchAll(/'((?:[^']|'')*)'/g)].map((x) =>
        (x[1] as string).replace(/''/g, "'"),
      );
      const ci = prop === "id" || prop === "appid";
      const set = new Set(ci ? values.map((v) => v.toLowerCase()) : values);
      preds.push((o) => set.has(ci ? get(o).toLowerCase() : get(o)));
      if (prop === "id") ids.push(...set);
      else if (prop === "appid") appIds.push(...set);
      else keyOnly = false;
      continue;
    }
    m = /^startswith\(\s*displayName\s*,\s*'((?:[^']|'')*)'\s*\)$/i.exec(clause);
    if (m && !onlyIds) {
      const prefix = (m[1] as string).replace(/''/g, "'").toLowerCase();
      preds.push((o) => o.displayName.toLowerCase().startsWith(prefix));
      keyOnly = false;
      continue;
    }
    throw new FilterError(`Invalid filter clause: ${clause}`);
  }
  return {
    predicate: (o) => preds.some((p) => p(o)),
    ...(keyOnly ? { keys: { ids, appIds } } : {}),
  };
}

function unsupported(prop: string, resource: string): FilterError {
  return new FilterError(
    `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${resource}'.`,
  );
}

function stripParens(s: string): string {
  while (s.startsWith("(") && s.endsWith(")") && balanced(s.slice(1, -1))) s = s.slice(1, -1).trim();
  return s;
}

function balanced(s: string): boolean {
  let depth = 0;
  let quoted = false;
  for (const ch of s) {
    if (ch === "'") quoted = !quoted;
    else if (!quoted && ch === "(") depth++;
    else if (!quoted && ch === ")" && --depth < 0) return false;
  }
  return depth === 0;
}

function splitOutside(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'") quoted = !quoted;
    else if (!quoted && ch === "(") depth++;
    else if (!quoted && ch === ")") depth--;
    else if (!quoted && depth === 0 && s.slice(i, i + sep.length).toLowerCase() === sep) {
      out.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** Opaque paging/delta tokens: base64url JSON. */
export function encodeToken(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

export function decodeToken<T>(s: string): T | undefined {
  try {
    return JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as T;
  } catch {
    return undefined;
  }
}
