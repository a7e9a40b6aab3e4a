/**
 * Microsoft Graph, through @microsoft/microsoft-graph-client with a TokenCredential.
 *
 * Self mode: the target rolls its own key — `addKey`/`removeKey` called with a token *of the
 * target itself* and a proof-of-possession signed (in Key Vault) by a key already on it. An
 * application needs no Graph permission for that (application-addkey.md); an agent identity
 * blueprint's principal needs AgentIdentityBlueprint.AddRemoveCreds.All (agentidentityblueprint-
 * addkey.md documents no permission-free self-roll). Managed mode: Rollover's identity, owner of the target
 * with Application.ReadWrite.OwnedBy, replaces the whole `keyCredentials` collection.
 */
import type { TokenCredential } from "@azure/identity";
import { Client, GraphError } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import {
  type KeyCredential,
  type PasswordCredential,
  type Target,
  type TargetType,
  targetTypeOfOdata,
} from "../core/model.js";
import { thumbprintOfKey } from "../core/snapshot.js";
import { parseInstant } from "../core/time.js";

const KNOWN_GRAPH_HOSTS = [
  "graph.microsoft.com",
  "graph.microsoft.us",
  "dod-graph.microsoft.us",
  "microsoftgraph.chinacloudapi.cn",
];

/** Graph's token scope: the cloud's own Graph resource, or the public one for a custom endpoint. */
export function graphScope(graphBaseUrl: string): string {
  const host = new URL(graphBaseUrl).hostname.toLowerCase();
  return KNOWN_GRAPH_HOSTS.includes(host)
    ? `https://${host}/.default`
    : "https://graph.microsoft.com/.default";
}

export function graphClient(graphBaseUrl: string, credential: TokenCredential): Client {
  const host = new URL(graphBaseUrl).hostname;
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(credential, {
      scopes: [graphScope(graphBaseUrl)],
    }),
    baseUrl: `${graphBaseUrl.replace(/\/+$/, "")}/`,
    defaultVersion: "v1.0",
    ...(KNOWN_GRAPH_HOSTS.includes(host.toLowerCase()) ? {} : { customHosts: new Set([host]) }),
  });
}

/** The path of a target object, with the type cast agent identity blueprints take. */
export function targetPath(type: TargetType, id: string): string {
  switch (type) {
    case "application":
      return `/applications/${id}`;
    case "agentIdentityBlueprint":
      return `/applications/${id}/microsoft.graph.agentIdentityBlueprint`;
    case "servicePrincipal":
      return `/servicePrincipals/${id}`;
  }
}

interface WireKeyCredential {
  keyId: string;
  customKeyIdentifier?: string | null;
  displayName?: string | null;
  type?: string;
  usage?: string;
  startDateTime?: string;
  endDateTime?: string;
  key?: string | null;
}

interface WirePasswordCredential {
  keyId: string;
  displayName?: string | null;
  hint?: string | null;
  startDateTime?: string;
  endDateTime?: string;
}

export interface WireObject {
  id: string;
  appId?: string;
  displayName?: string;
  "@odata.type"?: string;
  keyCredentials?: WireKeyCredential[];
  passwordCredentials?: WirePasswordCredential[];
}

export function isGraphNotFound(e: unknown): boolean {
  return (e as GraphError).statusCode === 404;
}

/** Maps a Graph object to the core's Target; credentials with unreadable dates are dropped (the sweep reports them). */
export function toTarget(o: WireObject, tenantId: string, fallbackType: TargetType): Target {
  const type = targetTypeOfOdata(o["@odata.type"]) ?? fallbackType;
  const keyCredentials: KeyCredential[] = [];
  for (const k of o.keyCredentials ?? []) {
    const start = parseInstant(k.startDateTime);
    const end = parseInstant(k.endDateTime);
    if (start === undefined || end === undefined) continue;
    // From the certificate itself, never from customKeyIdentifier (any writer sets that freely).
    const thumbprint = thumbprintOfKey(k.key);
    keyCredentials.push({
      keyId: k.keyId.toLowerCase(),
      displayName: k.displayName ?? null,
      type: k.type ?? "AsymmetricX509Cert",
      usage: k.usage ?? "Verify",
      start,
      end,
      ...(thumbprint ? { thumbprint } : {}),
    });
  }
  const passwordCredentials: PasswordCredential[] = [];
  for (const p of o.passwordCredentials ?? []) {
    const start = parseInstant(p.startDateTime);
    const end = parseInstant(p.endDateTime);
    if (start === undefined || end === undefined) continue;
    passwordCredentials.push({
      keyId: p.keyId.toLowerCase(),
      displayName: p.displayName ?? null,
      hint: p.hint ?? null,
      start,
      end,
    });
  }
  return {
    tenantId,
    id: o.id.toLowerCase(),
    appId: (o.appId ?? "").toLowerCase(),
    displayName: o.displayName ?? "",
    type,
    keyCredentials,
    passwordCredentials,
  };
}

const SELECT = "id,appId,displayName,keyCredentials,passwordCredentials";

/** One target to read by id. */
export interface TargetRef {
  type: TargetType;
  id: string;
}

/** The read of one target: the object with its credentials (a single-object read carries `key`). */
function targetReadUrl(type: TargetType, id: string): string {
  return `${targetPath(type, id)}?$select=${SELECT}`;
}

/** A failed read of one target: undefined when the target is gone (404), else the error. */
function goneOrThrow(e: unknown): undefined {
  if (isGraphNotFound(e)) return undefined;
  throw e;
}

/** Requests in one JSON batch (learn.microsoft.com/graph/json-batching, "Batch size limitations"). */
const BATCH_LIMIT = 20;
/** Inner statuses sent again, and how often: those of the SDK's RetryHandler, its default 3. */
const RETRY_STATUSES = new Set([429, 503, 504]);
const INNER_RETRIES = 3;

/** One answer in a `$batch` response (json-batching: id, status, headers, body). */
interface InnerResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * How long to wait before an inner request is sent again: its own `Retry-After` (seconds), else
 * the RetryHandler's back-off (3 s plus an exponential part).
 */
function retryDelayMs(headers: Record<string, string> | undefined, attempt: number): number {
  const header = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === "retry-after")?.[1];
  const seconds = Number(header);
  if (header !== undefined && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  return (3 + Math.round((2 ** attempt - 1) / 2)) * 1000;
}

/**
 * An inner failure as the SDK's GraphErrorHandler makes a GraphError of a failed request
 * (statusCode, code, requestId, date, body), its message naming the object.
 */
function innerGraphError(r: InnerResponse, ref: TargetRef): GraphError {
  const error = (r.body as { error?: GraphApiError } | undefined)?.error;
  const e = new GraphError(
    r.status,
    `${ref.type} ${ref.id}: ${error?.message ?? `HTTP ${r.status}`} (a $batch read)`,
  );
  e.code = error?.code ?? null;
  e.requestId = error?.innerError?.["request-id"] ?? null;
  e.date = error?.innerError?.date ? new Date(error.innerError.date) : new Date();
  e.body = JSON.stringify(error ?? r.body ?? null);
  e.headers = new Headers(r.headers ?? {});
  return e;
}

interface GraphApiError {
  code?: string;
  message?: string;
  innerError?: { "request-id"?: string; date?: string };
}

export class GraphEdge {
  constructor(
    readonly graphBaseUrl: string,
    /** Waits before inner requests of a batch are sent again (tests move the sandbox's clock). */
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  client(credential: TokenCredential): Client {
    return graphClient(this.graphBaseUrl, credential);
  }

  /** Reads one target with its credentials; undefined when it does not exist. */
  async getTarget(
    client: Client,
    tenantId: string,
    type: TargetType,
    id: string,
  ): Promise<Target | undefined> {
    try {
      return toTarget((await client.api(targetReadUrl(type, id)).get()) as WireObject, tenantId, type);
    } catch (e) {
      return goneOrThrow(e);
    }
  }

  /**
   * Reads many targets as `getTarget` reads each (the same URL, the same mapping, undefined for
   * one that is gone), in the order of `refs`, through Graph JSON batching: one `POST /$batch`
   * per 20 refs (learn.microsoft.com/graph/json-batching: at most 20 requests in a batch; each
   * inner request is authorized and throttled on its own and answered with its own status, a
   * throttled one with its own `Retry-After`). Each inner request is a single-object read, so
   * `$select=keyCredentials` carries each key's `key` as it does outside a batch.
   *
   * Inner 429/503/504 are sent again, alone, after their `Retry-After` (at most three times, as
   * the SDK's RetryHandler retries a request on its own); any other failure throws the GraphError
   * `getTarget` would have thrown, naming the object.
   */
  async getTargets(
    client: Client,
    tenantId: string,
    refs: readonly TargetRef[],
  ): Promise<Array<Target | undefined>> {
    const out: Array<Target | undefined> = [];
    for (let i = 0; i < refs.length; i += BATCH_LIMIT)
      out.push(...(await this.readBatch(client, tenantId, refs.slice(i, i + BATCH_LIMIT))));
    return out;
  }

  private async readBatch(
    client: Client,
    tenantId: string,
    refs: readonly TargetRef[],
  ): Promise<Array<Target | undefined>> {
    const out = new Array<Target | undefined>(refs.length).fill(undefined);
    let pending = refs.map((ref, i) => ({ ref, id: String(i), retries: 0 }));
    while (pending.length > 0) {
      const res = (await client.api("/$batch").post({
        requests: pending.map((p) => ({ id: p.id, method: "GET", url: targetReadUrl(p.ref.type, p.ref.id) })),
      })) as { responses?: InnerResponse[] };
      const byId = new Map((res.responses ?? []).map((r) => [r.id, r]));
      const again: typeof pending = [];
      let waitMs = 0;
      for (const p of pending) {
        const r = byId.get(p.id);
        if (!r) throw new Error(`Graph's $batch answer has no response for ${p.ref.type} ${p.ref.id}`);
        if (r.status >= 200 && r.status < 300) {
          out[Number(p.id)] = toTarget(r.body as WireObject, tenantId, p.ref.type);
        } else if (RETRY_STATUSES.has(r.status) && p.retries < INNER_RETRIES) {
          again.push({ ...p, retries: p.retries + 1 });
          waitMs = Math.max(waitMs, retryDelayMs(r.headers, p.retries + 1));
        } else {
          out[Number(p.id)] = goneOrThrow(innerGraphError(r, p.ref));
        }
      }
      if (again.length > 0) await this.sleep(waitMs);
      pending = again;
    }
    return out;
  }

  /**
   * The app role ids granted to a service principal (its application permissions), every page.
   * GET /servicePrincipals/{id}/appRoleAssignments — Application.Read.All
   * (https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments).
   */
  async appRoleIds(client: Client, servicePrincipalId: string): Promise<string[]> {
    const ids: string[] = [];
    let page = (await client
      .api(`/servicePrincipals/${encodeURIComponent(servicePrincipalId)}/appRoleAssignments`)
      .select("appRoleId,resourceDisplayName")
      .top(999)
      .get()) as { value?: Array<{ appRoleId?: string }>; "@odata.nextLink"?: string };
    for (;;) {
      for (const a of page.value ?? [])
        if (typeof a.appRoleId === "string") ids.push(a.appRoleId.toLowerCase());
      const next = page["@odata.nextLink"];
      if (!next) return ids;
      page = (await client.api(next).get()) as typeof page;
    }
  }

  /**
   * Whether `ownerId` is among the target's owners (read with Application.Read.All:
   * application-list-owners, serviceprincipal-list-owners).
   */
  async ownedBy(client: Client, type: TargetType, id: string, ownerId: string): Promise<boolean> {
    const base = type === "servicePrincipal" ? `/servicePrincipals/${id}` : `/applications/${id}`;
    let url: string | undefined = `${base}/owners?$select=id`;
    const want = ownerId.toLowerCase();
    while (url) {
      const res = (await client.api(url).get()) as {
        value?: Array<{ id?: string }>;
        "@odata.nextLink"?: string;
      };
      if ((res.value ?? []).some((o) => (o.id ?? "").toLowerCase() === want)) return true;
      url = res["@odata.nextLink"];
    }
    return false;
  }

  /** Self mode: adds a certificate as the target itself. Returns the new key's id. */
  async addKey(
    client: Client,
    type: TargetType,
    id: string,
    cer: Uint8Array,
    proof: string,
    displayName: string,
  ): Promise<string> {
    const res = (await client.api(`${targetPath(type, id)}/addKey`).post({
      keyCredential: {
        type: "AsymmetricX509Cert",
        usage: "Verify",
        key: Buffer.from(cer).toString("base64"),
        displayName,
      },
      passwordCredential: null,
      proof,
    })) as { keyId?: string };
    return (res.keyId ?? "").toLowerCase();
  }

  /** Self mode: removes a key as the target itself. */
  async removeKey(client: Client, type: TargetType, id: string, keyId: string, proof: string): Promise<void> {
    await client.api(`${targetPath(type, id)}/removeKey`).post({ keyId, proof });
  }

  /**
   * Managed mode: adds a certificate to the target's keyCredentials unless a key with the same
   * certificate is already there (matched by the certificate itself, never by
   * customKeyIdentifier), through `updateKeyCredentials`.
   */
  async appendCertificate(
    client: Client,
    type: TargetType,
    id: string,
    cert: { cer: Uint8Array; thumbprintHex: string; displayName: string; keyId: string },
  ): Promise<void> {
    const thumbprint = cert.thumbprintHex.toUpperCase();
    const isNew = (k: { key?: string | null }) => thumbprintOfKey(k.key) === thumbprint;
    await this.updateKeyCredentials(client, type, id, (cur) =>
      cur.some(isNew)
        ? cur
        : [
            ...cur,
            {
              keyId: cert.keyId,
              type: "AsymmetricX509Cert",
              usage: "Verify",
              key: Buffer.from(cert.cer).toString("base64"),
              displayName: cert.displayName,
            },
          ],
    );
  }

  /**
   * Managed mode: read-modify-write of the whole keyCredentials collection. `change` gets the
   * current collection (with `key`, read with $select on the single object) and returns the new
   * one; nothing is sent when it returns the collection unchanged.
   *
   * The PATCH's 204 is the proof the change was made. It is not read back: Entra is eventually
   * consistent, so a read right after may not show the write yet, and taking that as a failure
   * would repeat a change already made (devblogs.microsoft.com/identity, "designing for eventual
   * consistency for Microsoft Entra"). The engine remembers the write instead (own-writes.ts).
   */
  async updateKeyCredentials(
    client: Client,
    type: TargetType,
    id: string,
    change: (current: WireKeyCredential[]) => WireKeyCredential[],
  ): Promise<void> {
    const path = targetPath(type, id);
    const current =
      ((await client.api(path).select("keyCredentials").get()) as WireObject).keyCredentials ?? [];
    const changed = change(current);
    if (changed === current) return;
    const next = changed.map((k) => ({
      keyId: k.keyId,
      type: k.type ?? "AsymmetricX509Cert",
      usage: k.usage ?? "Verify",
      key: k.key ?? null,
      displayName: k.displayName ?? null,
      ...(k.customKeyIdentifier ? { customKeyIdentifier: k.customKeyIdentifier } : {}),
      ...(k.startDateTime ? { startDateTime: k.startDateTime } : {}),
      ...(k.endDateTime ? { endDateTime: k.endDateTime } : {}),
    }));
    // Application.ReadWrite.OwnedBy on a target Rollover's identity owns (application-update.md).
    await client.api(path).patch({ keyCredentials: next });
  }
}

export interface TargetPage {
  targets: Target[];
  /**
   * Objects the page names without `keyCredentials` or `passwordCredentials` (a `/delta` page
   * returns a changed object with its id and only the properties that changed). Their credentials
   * are unknown, not empty: read them by id before planning.
   */
  partial: TargetRef[];
  nextLink?: string;
  deltaLink?: string;
}

/**
 * The first page of a collection Rollover sweeps: applications (blueprints included) or service
 * principals — a plain list, or the start of a `/delta` enumeration that ends with a delta link.
 */
export function firstPageUrl(
  collection: "applications" | "servicePrincipals",
  pageSize = 999,
  kind: "list" | "delta" = "list",
): string {
  return kind === "delta"
    ? `/${collection}/delta?$select=${SELECT}`
    : `/${collection}?$select=${SELECT}&$top=${pageSize}`;
}

/** Graph's answer when a delta link is too old to follow: start a new enumeration. */
export function isExpiredDeltaToken(e: unknown): boolean {
  const err = e as GraphError;
  return (
    (err.statusCode === 410 || err.statusCode === 400) &&
    /ExpiredPageToken|resyncRequired|syncStateNotFound/i.test(`${err.code ?? ""} ${err.message ?? ""}`)
  );
}

/** Reads one page (a relative path or an absolute `@odata.nextLink`). */
export async function readTargetPage(
  client: Client,
  tenantId: string,
  url: string,
  fallbackType: TargetType,
): Promise<TargetPage> {
  // Delta pages default to 100 objects; ask for the list's 999 (ignored by plain lists, which take $top).
  const res = (await client.api(url).header("Prefer", "odata.maxpagesize=999").get()) as {
    value?: WireObject[];
    "@odata.nextLink"?: string;
    "@odata.deltaLink"?: string;
  };
  const targets: Target[] = [];
  const partial: TargetPage["partial"] = [];
  for (const o of res.value ?? []) {
    if ((o as { "@removed"?: unknown })["@removed"]) continue;
    if (!Array.isArray(o.keyCredentials) || !Array.isArray(o.passwordCredentials)) {
      partial.push({
        id: o.id.toLowerCase(),
        type: targetTypeOfOdata(o["@odata.type"]) ?? fallbackType,
      });
      continue;
    }
    targets.push(toTarget(o, tenantId, fallbackType));
  }
  return {
    targets,
    partial,
    ...(res["@odata.nextLink"] ? { nextLink: res["@odata.nextLink"] } : {}),
    ...(res["@odata.deltaLink"] ? { deltaLink: res["@odata.deltaLink"] } : {}),
  };
}

/**
 * Removes a client secret as Rollover's identity, an owner of the target with
 * Application.ReadWrite.OwnedBy (application-removepassword, serviceprincipal-removepassword:
 * least privileged application permission Application.ReadWrite.OwnedBy; no self exemption).
 */
export async function removePassword(
  client: Client,
  type: TargetType,
  id: string,
  keyId: string,
): Promise<void> {
  await client.api(`${targetPath(type, id)}/removePassword`).post({ keyId });
}
