/**
 * The differential run: the same Key Vault requests, as Rollover's SDK clients send them, to two
 * vaults (Lowkey Vault and the sandbox), and a comparison of what came back: status, error code,
 * and the presence and JSON type of every field (values differ by nature: ids, keys, times).
 */
import { createHash } from "node:crypto";
import { raw } from "../../integration/sandbox/kv-helpers.js";

/** The api-version the installed Key Vault SDKs send (the api-version tests read it from them). */
export const API_VERSION = "2025-07-01";

export interface Exchange {
  step: string;
  status: number;
  code?: string;
  body: unknown;
}

export interface Vault {
  url: string;
  token(): Promise<string>;
}

/** What one JSON value looks like: its type, and for objects and arrays what they hold. */
export type Shape = string | { [k: string]: Shape } | Shape[];

export function shapeOf(v: unknown): Shape {
  if (v === null) return "null";
  if (Array.isArray(v)) {
    if (v.length === 0) return [];
    // Items of one array are compared as one: the union of their fields.
    return [v.map(shapeOf).reduce(mergeShapes)];
  }
  if (typeof v === "object") {
    const out: Record<string, Shape> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      // Tag names are data, not fields: a tag map is compared as "some string values" or empty.
      out[k] =
        k === "tags" && x !== null && typeof x === "object"
          ? Object.keys(x).length > 0
            ? { "<tag>": "string" }
            : {}
          : shapeOf(x);
    }
    return out;
  }
  return typeof v;
}

function mergeShapes(a: Shape, b: Shape): Shape {
  if (typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, Shape> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeShapes(out[k] as Shape, v) : v;
    return out;
  }
  return a;
}

/** Differences between two shapes, as `path: what` lines (`path` in JSONPath-like form). */
export function diffShapes(a: Shape, b: Shape, path = "$"): string[] {
  const kind = (s: Shape) => (Array.isArray(s) ? "array" : typeof s === "object" ? "object" : s);
  if (kind(a) !== kind(b)) return [`${path}: ${kind(a)} vs ${kind(b)}`];
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length === 0 || b.length === 0) return [];
    return diffShapes(a[0] as Shape, b[0] as Shape, `${path}[]`);
  }
  if (typeof a === "object" && typeof b === "object") {
    const out: string[] = [];
    const ao = a as Record<string, Shape>;
    const bo = b as Record<string, Shape>;
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
      if (!(k in bo)) out.push(`${path}.${k}: only in first`);
      else if (!(k in ao)) out.push(`${path}.${k}: only in second`);
      else out.push(...diffShapes(ao[k] as Shape, bo[k] as Shape, `${path}.${k}`));
    }
    return out;
  }
  return [];
}

/** Differences between two exchanges of the same step. */
export function diffExchanges(a: Exchange, b: Exchange): string[] {
  const out: string[] = [];
  if (a.status !== b.status) out.push(`status: ${a.status} vs ${b.status}`);
  if (a.code !== b.code) out.push(`error.code: ${a.code ?? "-"} vs ${b.code ?? "-"}`);
  if (a.status === b.status) out.push(...diffShapes(shapeOf(a.body), shapeOf(b.body)));
  return out.map((d) => `${a.step} ${d}`);
}

async function call(
  v: Vault,
  step: string,
  method: string,
  path: string,
  body?: unknown,
  opts: { token?: boolean; apiVersion?: string } = {},
): Promise<Exchange> {
  const url = path.startsWith("https://")
    ? path
    : `${v.url}${path}${path.includes("?") ? "&" : "?"}api-version=${opts.apiVersion ?? API_VERSION}`;
  const headers: Record<string, string> = {};
  if (opts.token !== false) headers.Authorization = `Bearer ${await v.token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await raw(url, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  let parsed: unknown;
  try {
    parsed = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    parsed = res.body;
  }
  const code = (parsed as { error?: { code?: string } } | undefined)?.error?.code;
  return { step, status: res.status, ...(code ? { code } : {}), body: parsed };
}

/** The policy Rollover's certificates carry, in wire form (what the SDK sends for it). */
export function wirePolicy(subject: string): Record<string, unknown> {
  return {
    key_props: { exportable: false, kty: "RSA", key_size: 2048, reuse_key: false },
    secret_props: { contentType: "application/x-pkcs12" },
    x509_props: { subject, key_usage: ["digitalSignature"], validity_months: 12 },
    lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "EmailContacts" } }],
    issuer: { name: "Self" },
  };
}

async function waitCompleted(v: Vault, step: string, name: string): Promise<Exchange> {
  for (let i = 0; i < 200; i++) {
    const op = await call(v, step, "GET", `/certificates/${name}/pending`);
    const status = (op.body as { status?: string } | undefined)?.status;
    if (op.status !== 200 || status !== "inProgress") return op;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name}: the operation did not complete`);
}

/**
 * Every Key Vault call Rollover makes, in order, against one vault; `name` must be new there.
 * `pfx`/`pwd`: a certificate to import.
 */
export async function runSequence(
  v: Vault,
  name: string,
  imported: { pfx: Buffer; pwd: string },
): Promise<Exchange[]> {
  const out: Exchange[] = [];
  const tags = { "rollover-target": "00000000-0000-4000-8000-0000000000c1", "rollover-mode": "self" };
  out.push(await call(v, "challenge (no token)", "GET", "/certificates", undefined, { token: false }));
  out.push(
    await call(v, "create", "POST", `/certificates/${name}/create`, {
      policy: wirePolicy(`CN=${name}`),
      tags,
    }),
  );
  out.push(await waitCompleted(v, "pending (completed)", name));
  // Renew: a second create with the stored policy, as VaultEdge.renew sends it.
  const policy = await call(v, "policy", "GET", `/certificates/${name}/policy`);
  out.push(policy);
  const { id: _id, attributes: _a, ...stored } = policy.body as Record<string, unknown>;
  out.push(await call(v, "renew (create)", "POST", `/certificates/${name}/create`, { policy: stored, tags }));
  await waitCompleted(v, "pending (renewed)", name);

  const page1 = await call(v, "versions (page 1)", "GET", `/certificates/${name}/versions?maxresults=1`);
  out.push(page1);
  const next = (page1.body as { nextLink?: string | null }).nextLink;
  if (typeof next === "string" && next) out.push(await call(v, "versions (next page)", "GET", next));
  else out.push({ step: "versions (next page)", status: 0, body: "no nextLink" });
  const all = await call(v, "versions (all)", "GET", `/certificates/${name}/versions`);
  const versions = ((all.body as { value?: Array<{ id: string }> }).value ?? []).map(
    (x) => x.id.split("/").at(-1) as string,
  );

  const latest = await call(v, "get latest", "GET", `/certificates/${name}/`);
  out.push(latest);
  const latestVersion = String((latest.body as { id?: string }).id ?? "")
    .split("/")
    .at(-1) as string;
  const older = versions.find((x) => x !== latestVersion) ?? "";
  out.push(await call(v, "get by version", "GET", `/certificates/${name}/${older}`));
  out.push(await call(v, "list certificates", "GET", "/certificates?maxresults=25"));
  out.push(
    await call(v, "update tags", "PATCH", `/certificates/${name}/${latestVersion}`, {
      tags: { ...tags, "rollover-note": "updated" },
    }),
  );
  out.push(await call(v, "get key", "GET", `/keys/${name}/${latestVersion}`));
  const digest = createHash("sha256").update("rollover").digest().toString("base64url");
  out.push(
    await call(v, "sign RS256", "POST", `/keys/${name}/${latestVersion}/sign`, {
      alg: "RS256",
      value: digest,
    }),
  );
  out.push(
    await call(v, "sign PS256", "POST", `/keys/${name}/${latestVersion}/sign`, {
      alg: "PS256",
      value: digest,
    }),
  );
  out.push(
    await call(v, "import", "POST", `/certificates/${name}-imported/import`, {
      value: imported.pfx.toString("base64"),
      pwd: imported.pwd,
      policy: {
        key_props: { exportable: true, kty: "RSA", key_size: 2048, reuse_key: false },
        secret_props: { contentType: "application/x-pkcs12" },
      },
      tags,
    }),
  );
  out.push(await call(v, "pending after import", "GET", `/certificates/${name}-imported/pending`));
  out.push(await call(v, "policy after import", "GET", `/certificates/${name}-imported/policy`));

  const missing = `${name}-missing`;
  out.push(await call(v, "404 certificate", "GET", `/certificates/${missing}/`));
  out.push(await call(v, "404 versions", "GET", `/certificates/${missing}/versions`));
  out.push(await call(v, "404 pending", "GET", `/certificates/${missing}/pending`));
  out.push(await call(v, "404 policy", "GET", `/certificates/${missing}/policy`));
  out.push(await call(v, "404 key", "GET", `/keys/${missing}/${latestVersion}`));
  out.push(
    await call(v, "404 sign", "POST", `/keys/${missing}/${latestVersion}/sign`, {
      alg: "RS256",
      value: digest,
    }),
  );
  out.push(await call(v, "bad api-version", "GET", "/certificates", undefined, { apiVersion: "1.0" }));
  return out;
}
