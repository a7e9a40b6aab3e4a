/**
 * Key Vault's REST surface for certificates and the keys and secrets behind them, served at the
 * root of the sandbox URL. Every request goes through the same gate as in the service: the bearer
 * challenge (401 with `WWW-Authenticate`), the token checks, the `api-version` check and the
 * per-vault request limit; then the handler runs and errors come back in Key Vault's envelope.
 */
import { serviceError } from "../errors.js";
import {
  BodyError,
  bearerToken,
  type Handler,
  jsonBody,
  type Route,
  type SandboxRequest,
  type SandboxResponse,
} from "../http.js";
import { TokenError } from "../tokens.js";
import type { SandboxContext } from "../types.js";
import { digestLength, isSignatureAlgorithm, signDigest, verifyDigest } from "./crypto.js";
import { API_VERSIONS, LATEST_API_VERSION } from "./api-version.js";
import { standaloneKeyBundle, standaloneKeysOf, usableStandaloneKey } from "./keys.js";
import { badParameter, KvError, policyJson } from "./policy.js";
import {
  CERTIFICATE_NAME,
  type CertVersion,
  certificateNotFound,
  keyNotFound,
  type SandboxVault,
  secretNotFound,
} from "./store.js";

export { API_VERSIONS } from "./api-version.js";

/** The resource the challenge names; tokens must carry it as `aud`. */
export const KEY_VAULT_RESOURCE = "https://vault.azure.net";
const SERVICE_VERSION = "1.9.2.0";
const REGION = "westus";
/** Page size when `maxresults` is absent, and its maximum (KeyVault REST spec: maxresults 1..25). */
const MAX_RESULTS = 25;

interface Call {
  apiVersion: string;
  objectId: string;
}

type KvHandler = (req: SandboxRequest, call: Call) => SandboxResponse | Promise<SandboxResponse>;

function decodeJwtPayload(token: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

export function keyVaultRoutesFor(ctx: SandboxContext, vault: SandboxVault): Route[] {
  const url = vault.url;
  let windowStart = 0;
  let windowCount = 0;

  function headers(req: SandboxRequest, extra: Record<string, string> = {}): Record<string, string> {
    const clientRequestId = req.headers["x-ms-client-request-id"];
    return {
      "Cache-Control": "no-cache",
      Pragma: "no-cache",
      Expires: "-1",
      "x-ms-keyvault-region": REGION,
      "x-ms-keyvault-service-version": SERVICE_VERSION,
      "x-ms-request-id": req.requestId,
      ...(typeof clientRequestId === "string" ? { "x-ms-client-request-id": clientRequestId } : {}),
      ...extra,
    };
  }

  function fail(req: SandboxRequest, e: KvError): SandboxResponse {
    const out = serviceError("keyvault", e.status, e.code, e.message, req.requestId, headers(req, e.headers));
    if (e.innerCode)
      (out.body as { error: Record<string, unknown> }).error.innererror = { code: e.innerCode };
    return out;
  }

  /** `WWW-Authenticate` naming the tenant's authority and Key Vault's resource (§2.6). */
  function challenge(): Record<string, string> {
    return {
      "WWW-Authenticate": `Bearer authorization="${ctx.urls.authorityHost.replace(/\/$/, "")}/${ctx.urls.tenantId}", resource="${KEY_VAULT_RESOURCE}"`,
    };
  }

  const unauthorized = (message: string): KvError =>
    new KvError(401, "Unauthorized", message, undefined, challenge());

  async function authenticate(req: SandboxRequest): Promise<string> {
    const token = bearerToken(req);
    // The first request of every SDK client comes without a token, to learn the authority (§2.6).
    if (!token) throw unauthorized("AKV10000: Request is missing a Bearer or PoP token.");
    try {
      const claims = await ctx.tokens.verify(token, KEY_VAULT_RESOURCE);
      if (claims.tid !== ctx.urls.tenantId) {
        throw unauthorized(
          `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${ctx.urls.tenantId}/, found ${String(claims.iss)}.`,
        );
      }
      const objectId = String(claims.oid ?? "");
      if (vault.deniedObjectIds.has(objectId)) {
        throw new KvError(
          403,
          "Forbidden",
          `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${String(claims.appid)};oid=${objectId}\r\nVault: ${vault.name};location=${REGION}\r\n`,
          "ForbiddenByRbac",
        );
      }
      return objectId;
    } catch (e) {
      if (e instanceof KvError) throw e;
      if (e instanceof TokenError) {
        // AKV10022 is the service's audience error (seen in the wild for ARM tokens); the other
        // token failures get the same 401 and challenge, worded plainly (their AKV codes are not
        // documented).
        if (e.reason === "audience") {
          const aud = decodeJwtPayload(token).aud;
          throw unauthorized(
            `AKV10022: Invalid audience. Expected ${KEY_VAULT_RESOURCE}, found: ${String(aud)}.`,
          );
        }
        if (e.reason === "expired") throw unauthorized("Token validation failed: the token is expired.");
        if (e.reason === "signature")
          throw unauthorized("Token validation failed: the token signature is invalid.");
        throw unauthorized("Token validation failed: the bearer token is malformed.");
      }
      throw e;
    }
  }

  function checkApiVersion(req: SandboxRequest): string {
    const v = req.query.get("api-version") ?? "";
    // Wording of the service's answer to an unknown version (seen in tools parsing it).
    if (!(API_VERSIONS as readonly string[]).includes(v))
      throw badParameter(
        `The specified version (${v}) is not recognized. Consider using the latest supported version (${LATEST_API_VERSION}).`,
      );
    return v;
  }

  /** A fixed-window request limit per vault (key-vault-limits.md: 2000 per 10 s for these operations). */
  function checkThrottle(): void {
    const now = ctx.clock.now();
    if (now - windowStart >= vault.throttle.windowMs) {
      windowStart = now;
      windowCount = 0;
    }
    if (windowCount >= vault.throttle.limit) {
      const retryAfter = Math.max(1, Math.ceil((windowStart + vault.throttle.windowMs - now) / 1000));
      // 429s do not count toward the limit (overview-throttling.md).
      throw new KvError(
        429,
        "Throttled",
        "Request was not processed because too many requests were received. Reason: A1",
        undefined,
        { "Retry-After": String(retryAfter) },
      );
    }
    windowCount++;
  }

  function kv(method: string | string[], path: string | RegExp, handler: KvHandler): Route {
    const wrapped: Handler = async (req) => {
      try {
        const objectId = await authenticate(req);
        const apiVersion = checkApiVersion(req);
        checkThrottle();
        const out = await handler(req, { apiVersion, objectId });
        return { ...out, headers: headers(req, out.headers ?? {}) };
      } catch (e) {
        if (e instanceof KvError) return fail(req, e);
        if (e instanceof BodyError) return fail(req, badParameter(e.message));
        throw e;
      }
    };
    return { service: "keyvault", method, path, handler: wrapped };
  }

  const ok = (body: unknown, status = 200, extra: Record<string, string> = {}): SandboxResponse => ({
    status,
    body,
    headers: extra,
  });

  function name(req: SandboxRequest): string {
    const n = req.params.name ?? "";
    if (!CERTIFICATE_NAME.test(n)) throw badParameter(`The request URI contains an invalid name: ${n}`);
    return n;
  }

  function objectBody(req: SandboxRequest): Record<string, unknown> {
    const body = jsonBody(req);
    if (body === undefined) return {};
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw badParameter("The request body must be a JSON object.");
    return body as Record<string, unknown>;
  }

  /** One page of `items` with a `nextLink` back to this vault (`$skiptoken`, `maxresults`). */
  function page<T>(req: SandboxRequest, call: Call, path: string, items: T[]): SandboxResponse {
    const rawMax = req.query.get("maxresults");
    let max = MAX_RESULTS;
    if (rawMax !== undefined && rawMax !== "") {
      max = Number(rawMax);
      if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS)
        throw badParameter(`Invalid maxresults ${rawMax}: expected an integer between 1 and ${MAX_RESULTS}.`);
    }
    let offset = 0;
    const token = req.query.get("$skiptoken");
    if (token) {
      try {
        offset = Number((JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { o: number }).o);
      } catch {
        throw badParameter("Invalid $skiptoken.");
      }
      if (!Number.isInteger(offset) || offset < 0) throw badParameter("Invalid $skiptoken.");
    }
    const slice = items.slice(offset, offset + max);
    const next = offset + max < items.length ? offset + max : undefined;
    const nextLink =
      next === undefined
        ? null
        : `${url}${path}?api-version=${call.apiVersion}&$skiptoken=${Buffer.from(JSON.stringify({ o: next })).toString("base64url")}&maxresults=${max}`;
    return ok({ value: slice, nextLink });
  }

  function versionOf(req: SandboxRequest, notFound: (n: string) => KvError): CertVersion {
    const n = name(req);
    const found = vault.findVersion(n, req.params.version || undefined);
    if (!found) throw notFound(n);
    return found.v;
  }

  function usableKey(v: CertVersion, op: string): void {
    if (!v.keyOps.includes(op))
      throw new KvError(
        403,
        "Forbidden",
        `Operation ${op} is not permitted on this key.`,
        "KeyOperationForbidden",
      );
    if (!v.enabled)
      throw new KvError(403, "Forbidden", `Operation ${op} is not allowed on a disabled key.`, "KeyDisabled");
    // "exp … the key MUST NOT be used for cryptographic operation" (about-keys-details.md), on
    // the virtual clock.
    const now = ctx.clock.nowSeconds();
    if (now < v.nbf)
      throw new KvError(
        403,
        "Forbidden",
        `Operation ${op} is not allowed on a key before its activation date.`,
        "KeyNotYetValid",
      );
    if (now > v.exp)
      throw new KvError(403, "Forbidden", `Operation ${op} is not allowed on an expired key.`, "KeyExpired");
  }

  function digestParams(body: Record<string, unknown>, field: "value" | "digest") {
    const alg = body.alg;
    if (!isSignatureAlgorithm(alg))
      throw badParameter(
        `Invalid algorithm ${String(alg)}: expected RS256, RS384, RS512, PS256, PS384 or PS512.`,
      );
    const raw = body[field];
    if (typeof raw !== "string") throw badParameter(`Property ${field} is required.`);
    const digest = Buffer.from(raw, "base64url");
    if (digest.length !== digestLength(alg))
      throw badParameter(
        `Invalid digest length ${digest.length} for algorithm ${alg}: expected ${digestLength(alg)} bytes.`,
      );
    return { alg, digest };
  }

  return [
    // --- certificates ---
    kv("GET", "/certificates", (req, call) => {
      const includePending = req.query.get("includepending") === "true";
      const items = vault.all().flatMap((e) => {
        const latest = e.versions.at(-1);
        if (latest) return [vault.certificateItem(latest, false)];
        if (includePending && e.pending)
          return [{ id: `${url}/certificates/${e.name}`, attributes: { enabled: false } }];
        return [];
      });
      return page(req, call, "/certificates", items);
    }),
    kv("POST", "/certificates/:name/create", async (req) => {
      const n = name(req);
      const body = objectBody(req);
      const op = await vault.beginCreate(n, body);
      return ok(vault.operationJson(n, op), 202, {
        Location: `${url}/certificates/${n}/pending?api-version=${req.query.get("api-version")}&request_id=${op.requestId}`,
        "Retry-After": "10",
      });
    }),
    // ImportCertificate: 200 and the CertificateBundle (import-certificate REST page). Needs the
    // certificates/import permission (Key Vault Certificates Officer holds it).
    kv("POST", "/certificates/:name/import", async (req, call) => {
      const n = name(req);
      const v = await vault.importCertificate(n, objectBody(req));
      const entry = vault.get(n) as NonNullable<ReturnType<typeof vault.get>>;
      return ok(vault.certificateBundle(entry, v, call.apiVersion));
    }),
    kv("POST", "/certificates/:name/pending/merge", (req, call) => {
      const n = name(req);
      vault.merge(n, objectBody(req));
      const found = vault.findVersion(n, undefined);
      if (!found) throw certificateNotFound(n);
      return ok(vault.certificateBundle(found.entry, found.v, call.apiVersion), 201);
    }),
    kv(["GET", "PATCH", "DELETE"], "/certificates/:name/pending", (req) => {
      const n = name(req);
      if (req.method === "PATCH") {
        const body = objectBody(req);
        if (body.cancellation_requested !== true)
          throw badParameter("Property cancellation_requested must be true to cancel the operation.");
        return ok(vault.operationJson(n, vault.cancel(n)));
      }
      if (req.method === "DELETE") return ok(vault.operationJson(n, vault.deletePending(n)));
      const op = vault.pendingOf(n);
      return ok(vault.operationJson(n, op), 200, op.status === "inProgress" ? { "Retry-After": "10" } : {});
    }),
    kv(["GET", "PATCH"], "/certificates/:name/policy", (req) => {
      const n = name(req);
      const entry = vault.get(n);
      if (!entry) throw certificateNotFound(n);
      const policy = req.method === "PATCH" ? vault.updatePolicy(n, objectBody(req)) : entry.policy;
      return ok(policyJson(policy, `${url}/certificates/${n}/policy`));
    }),
    kv("GET", "/certificates/:name/versions", (req, call) => {
      const n = name(req);
      const entry = vault.get(n);
      if (!entry || entry.versions.length === 0) throw certificateNotFound(n);
      return page(
        req,
        call,
        `/certificates/${n}/versions`,
        entry.versions.map((v) => vault.certificateItem(v, true)),
      );
    }),
    kv(["GET", "PATCH"], "/certificates/:name/:version?", (req, call) => {
      const n = name(req);
      const version = req.params.version || undefined;
      if (req.method === "PATCH") {
        // UpdateCertificate answers the bundle without policy or pending (REST spec
        // stable/7.5/examples/UpdateCertificate-example.json).
        const { entry, v } = vault.updateVersion(n, version, objectBody(req));
        const { policy: _p, pending: _o, ...bundle } = vault.certificateBundle(entry, v, call.apiVersion);
        return ok(bundle);
      }
      const found = vault.findVersion(n, version);
      if (!found) {
        const entry = vault.get(n);
        if (entry?.pending && entry.versions.length === 0 && (!version || version === entry.pending.version))
          return ok(vault.pendingBundle(entry, entry.pending));
        throw certificateNotFound(n);
      }
      return ok(vault.certificateBundle(found.entry, found.v, call.apiVersion));
    }),

    // --- secrets (the certificates' own) ---
    kv("GET", "/secrets", (req, call) =>
      page(
        req,
        call,
        "/secrets",
        vault.all().flatMap((e) => {
          const v = e.versions.at(-1);
          return v ? [vault.secretItem(v, false)] : [];
        }),
      ),
    ),
    kv("GET", "/secrets/:name/versions", (req, call) => {
      const n = name(req);
      const entry = vault.get(n);
      if (!entry || entry.versions.length === 0) throw secretNotFound(n);
      return page(
        req,
        call,
        `/secrets/${n}/versions`,
        entry.versions.map((v) => vault.secretItem(v, true)),
      );
    }),
    kv("GET", "/secrets/:name/:version?", (req) => {
      const v = versionOf(req, secretNotFound);
      if (!v.enabled)
        throw new KvError(
          403,
          "Forbidden",
          "Operation get is not allowed on a disabled secret.",
          "SecretDisabled",
        );
      return ok(vault.secretBundle(v));
    }),

    // --- keys (the certificates' own) ---
    kv("GET", "/keys", (req, call) =>
      page(
        req,
        call,
        "/keys",
        vault.all().flatMap((e) => {
          const v = e.versions.at(-1);
          return v ? [vault.keyItem(v, false)] : [];
        }),
      ),
    ),
    kv("GET", "/keys/:name/versions", (req, call) => {
      const n = name(req);
      const entry = vault.get(n);
      if (!entry || entry.versions.length === 0) throw keyNotFound(n);
      return page(
        req,
        call,
        `/keys/${n}/versions`,
        entry.versions.map((v) => vault.keyItem(v, true)),
      );
    }),
    // Standalone keys (sandbox/keyvault/keys.ts): create, and get/sign ahead of certificates' keys.
    kv("POST", "/keys/:name/create", async (req) =>
      ok(
        standaloneKeyBundle(url, await standaloneKeysOf(vault, ctx.clock).create(name(req), objectBody(req))),
      ),
    ),
    kv("POST", /^\/keys\/(?<name>[^/]+)(?:\/(?<version>[^/]*))?\/sign\/?$/i, (req) => {
      const sk = standaloneKeysOf(vault, ctx.clock);
      if (sk.has(name(req))) {
        const k = sk.find(name(req), req.params.version || undefined);
        if (!k) throw keyNotFound(name(req));
        const { alg, digest } = digestParams(objectBody(req), "value");
        usableStandaloneKey(k, "sign", ctx.clock.nowSeconds());
        return ok({
          kid: `${url}/keys/${k.name}/${k.version}`,
          value: signDigest(k.key, alg, digest).toString("base64url"),
        });
      }
      const v = versionOf(req, keyNotFound);
      const { alg, digest } = digestParams(objectBody(req), "value");
      usableKey(v, "sign");
      return ok({
        kid: `${url}/keys/${v.name}/${v.version}`,
        value: signDigest(v.key, alg, digest).toString("base64url"),
      });
    }),
    kv("POST", /^\/keys\/(?<name>[^/]+)(?:\/(?<version>[^/]*))?\/verify\/?$/i, (req) => {
      const v = versionOf(req, keyNotFound);
      const body = objectBody(req);
      const { alg, digest } = digestParams(body, "digest");
      if (typeof body.value !== "string") throw badParameter("Property value is required.");
      if (!v.enabled)
        throw new KvError(
          403,
          "Forbidden",
          "Operation verify is not allowed on a disabled key.",
          "KeyDisabled",
        );
      return ok({ value: verifyDigest(v.key, alg, digest, Buffer.from(body.value, "base64url")) });
    }),
    kv("GET", "/keys/:name/:version?", (req) => {
      const sk = standaloneKeysOf(vault, ctx.clock);
      if (sk.has(name(req))) {
        const k = sk.find(name(req), req.params.version || undefined);
        if (!k) throw keyNotFound(name(req));
        return ok(standaloneKeyBundle(url, k));
      }
      return ok(vault.keyBundle(versionOf(req, keyNotFound)));
    }),
  ];
}
