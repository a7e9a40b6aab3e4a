/**
 * The v2.0 token endpoint, `client_credentials` only: client secret (post or basic), client
 * assertion signed by a certificate registered in the client's `keyCredentials` (RS256 + `x5t`,
 * PS256 + `x5t#S256`), and the agent identity exchange (`fmi_path` on the blueprint's request,
 * then the agent identity's request with that exchange token as its assertion).
 *
 * Wire facts: research graph-entra.md §1.3 (agent exchange), §4.1–4.3 (request, assertion,
 * responses, AADSTS codes). Error texts follow Entra's, with the trailing
 * `Trace ID / Correlation ID / Timestamp` lines Entra appends to `error_description`.
 */
import { timingSafeEqual } from "node:crypto";
import { serviceError } from "../errors.js";
import { formBody, type SandboxRequest, type SandboxResponse } from "../http.js";
import type { DirectoryObjectSnapshot, SandboxContext, SignInEntry, StoredKeyCredential } from "../types.js";
import { certInfo, hexToB64url } from "../graph/certs.js";
import { Directory, staleView } from "../graph/directory.js";
import { decodeJwt, numberClaim, timeWindowHolds, verifyRsaSignature } from "./jwt.js";
import { operatorSecretMatches } from "./operator.js";
import {
  canonicalResource,
  GRAPH_RESOURCE,
  isoNoMillis,
  TOKEN_EXCHANGE_AUDIENCE,
  verifySandboxToken,
} from "./resources.js";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Clock skew Entra tolerates on assertion `nbf`/`exp` (5 minutes, as token validators commonly do). */
const SKEW_SECONDS = 300;

class OAuthError extends Error {
  /** What the sign-in log should record about the credential the client presented. */
  entry?: Outcome["entry"];
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    message: string,
  ) {
    super(`AADSTS${aadsts}: ${message}`);
  }
}

interface Outcome {
  entry: Pick<SignInEntry, "credentialType" | "credential" | "keyId">;
}

export function oauthError(
  ctx: SandboxContext,
  req: SandboxRequest,
  status: number,
  error: string,
  description: string,
): SandboxResponse {
  const correlation = String(req.headers["client-request-id"] ?? req.requestId);
  const stamp = isoNoMillis(ctx.clock).replace("T", " ");
  const text = `${description}\r\nTrace ID: ${req.requestId}\r\nCorrelation ID: ${correlation}\r\nTimestamp: ${stamp}`;
  const res = serviceError("entra", status, error, text, req.requestId);
  const body = res.body as Record<string, unknown>;
  body.timestamp = stamp;
  body.correlation_id = correlation;
  const code = (body.error_codes as number[] | undefined)?.[0];
  if (code !== undefined) body.error_uri = `${ctx.urls.authorityHost}/error?code=${code}`;
  return { ...res, headers: { ...res.headers, "Cache-Control": "no-store, no-cache", Pragma: "no-cache" } };
}

export function tokenHandler(ctx: SandboxContext) {
  return async (req: SandboxRequest): Promise<SandboxResponse> => {
    const tenantSegment = req.params.tenant ?? "";
    const tenantId = resolveTenant(ctx, tenantSegment);
    const form = isForm(req) ? formBody(req) : new Map<string, string>();
    const basic = basicAuth(req);
    const clientId = (form.get("client_id") ?? basic?.id ?? "").toLowerCase();
    const scope = form.get("scope") ?? "";
    let resource = "";
    const log = (success: boolean, entry: Partial<SignInEntry>, errorCode?: number) =>
      ctx.signIns.add({
        time: isoNoMillis(ctx.clock),
        tenantId: tenantId ?? tenantSegment,
        clientId,
        credentialType: "certificate",
        resource,
        requestId: req.requestId,
        ...entry,
        success,
        ...(errorCode !== undefined ? { errorCode } : {}),
      });
    let partial: Partial<SignInEntry> = {};
    try {
      if (!tenantId)
        throw new OAuthError(
          400,
          "invalid_request",
          90002,
          `Tenant '${tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
        );
      const grant = form.get("grant_type");
      if (!grant) throw missing("grant_type");
      if (grant !== "client_credentials")
        throw new OAuthError(
          400,
          "unsupported_grant_type",
          70003,
          `The app requested an unsupported grant type '${grant}'.`,
        );
      if (!clientId) throw missing("client_id");
      if (!scope) throw missing("scope");
      resource = resourceOf(ctx, tenantId, scope);

      const fmiPath = form.get("fmi_path");
      const secret = form.get("client_secret") ?? basic?.secret;
      const assertion = form.get("client_assertion");
      const assertionType = form.get("client_assertion_type");

      if (clientId === ctx.operator.clientId)
        return await operatorToken(ctx, req, tenantId, resource, secret);

      const principal = ctx.directory.findByAppId(tenantId, clientId, "servicePrincipal");
      const app = ctx.directory.findByAppId(tenantId, clientId, "application");
      if (!principal && !app)
        throw new OAuthError(
          400,
          "unauthorized_client",
          700016,
          `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        );
      if (!principal)
        throw new OAuthError(
          401,
          "invalid_client",
          7000229,
          `The client application ${clientId} is missing service principal in the tenant ${tenantId}.`,
        );
      if (principal.kind === "managedIdentity")
        throw new OAuthError(
          400,
          "invalid_request",
          700236,
          `Managed identity '${clientId}' cannot sign in at the token endpoint; use the managed identity endpoint.`,
        );

      let outcome: Outcome;
      if (principal.kind === "agentIdentity") {
        outcome = await agentIdentityLeg(ctx, tenantId, principal, assertion, assertionType, secret);
      } else {
        const holder = replicated(ctx, req, app ?? principal);
        if (secret !== undefined && assertion !== undefined)
          throw new OAuthError(
            400,
            "invalid_request",
            50049,
            "Only one of client_secret and client_assertion may be sent.",
          );
        if (assertion !== undefined) {
          if (assertionType !== JWT_BEARER) {
            if (!assertionType) throw missing("client_assertion_type");
            throw new OAuthError(
              400,
              "invalid_request",
              900023,
              `Specified client_assertion_type '${assertionType}' is not supported.`,
            );
          }
          outcome = checkCertificateAssertion(ctx, tenantSegment, tenantId, holder, assertion);
        } else if (secret !== undefined) {
          outcome = checkSecret(ctx, holder, secret);
        } else {
          throw new OAuthError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
          );
        }
      }
      partial = outcome.entry;

      let claims: Record<string, unknown>;
      if (fmiPath !== undefined) {
        claims = exchangeClaims(ctx, tenantId, app, principal, fmiPath, resource);
      } else {
        claims = {
          sub: principal.id,
          appidacr: outcome.entry.credentialType === "secret" ? "1" : "2",
          // The directory's grants are Microsoft Graph app roles; only Graph tokens carry them.
          ...(principal.appRoles.length > 0 && resource === GRAPH_RESOURCE
            ? { roles: [...principal.appRoles] }
            : {}),
        };
      }
      const issued = await ctx.tokens.issue({
        aud: resource,
        iss: `https://sts.windows.net/${tenantId}/`,
        tid: tenantId,
        oid: principal.id,
        appid: clientId,
        ...claims,
      });
      log(true, { ...partial, objectId: principal.id });
      return {
        status: 200,
        headers: {
          "Cache-Control": "no-store, no-cache",
          Pragma: "no-cache",
          "x-ms-request-id": req.requestId,
        },
        body: {
          token_type: "Bearer",
          expires_in: issued.expiresIn,
          ext_expires_in: issued.expiresIn,
          access_token: issued.token,
        },
      };
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      log(false, e.entry ?? partial, e.aadsts);
      return oauthError(ctx, req, e.status, e.error, e.message);
    }

    function missing(name: string): OAuthError {
      return new OAuthError(
        400,
        "invalid_request",
        900144,
        `The request body must contain the following parameter: '${name}'.`,
      );
    }
  };
}

/**
 * The person at the keyboard (see operator.ts): a delegated user token with the person's scopes
 * and directory roles; the secret stands in for their interactive sign-in. In another tenant the
 * token is their guest account's there (its object id, its roles), or AADSTS50020 where they have
 * none.
 */
async function operatorToken(
  ctx: SandboxContext,
  req: SandboxRequest,
  tenantId: string,
  resource: string,
  secret: string | undefined,
): Promise<SandboxResponse> {
  const op = ctx.operator;
  if (secret === undefined || !operatorSecretMatches(op, secret))
    return oauthError(
      ctx,
      req,
      401,
      "invalid_client",
      `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${op.clientId}'.`,
    );
  const home = ctx.directory.defaultTenantId;
  const homeIssuer = `https://sts.windows.net/${home}/`;
  const account = tenantId === home ? { objectId: op.objectId, roles: op.roles } : op.guestOf[tenantId];
  if (!account) {
    // A user signing in to a tenant where they are no guest (learn.microsoft.com/troubleshoot/entra/
    // entra-id/app-integration/error-code-aadsts50020-user-account-identity-provider-does-not-exist).
    // A user's failed token request is 400 invalid_grant (as Azure CLI's refresh-token redemptions
    // show, e.g. github.com/Azure/azure-cli/issues/14696).
    const tenantName = ctx.directory.tenantDisplayName(tenantId) ?? tenantId;
    return oauthError(
      ctx,
      req,
      400,
      "invalid_grant",
      `AADSTS50020: User account '${op.upn}' from identity provider '${homeIssuer}' does not exist in tenant '${tenantName}' and cannot access the application '${op.clientId}'(Microsoft Azure CLI) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Microsoft Entra user account.`,
    );
  }
  const graph = resource === GRAPH_RESOURCE;
  const issued = await ctx.tokens.issue({
    aud: resource,
    iss: `https://sts.windows.net/${tenantId}/`,
    tid: tenantId,
    oid: account.objectId,
    sub: account.objectId,
    appid: op.clientId,
    idtyp: "user",
    name: op.displayName,
    // A guest's token names the home tenant as its identity provider and carries no `upn`
    // (learn.microsoft.com/entra/identity-platform/access-token-claims-reference, "idp").
    ...(tenantId === home ? { upn: op.upn } : { idp: homeIssuer, unique_name: op.upn }),
    ...(graph ? { scp: op.scopes.join(" "), wids: [...account.roles] } : {}),
  });
  return {
    status: 200,
    headers: { "Cache-Control": "no-store, no-cache", Pragma: "no-cache", "x-ms-request-id": req.requestId },
    body: {
      token_type: "Bearer",
      expires_in: issued.expiresIn,
      ext_expires_in: issued.expiresIn,
      access_token: issued.token,
    },
  };
}

export function resolveTenant(ctx: SandboxContext, segment: string): string | undefined {
  const s = segment.toLowerCase();
  return ctx.directory.tenantIds().find((t) => t === s);
}

function isForm(req: SandboxRequest): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(String(req.headers["content-type"] ?? ""));
}

function basicAuth(req: SandboxRequest): { id: string; secret: string } | undefined {
  const m = /^Basic\s+(.+)$/i.exec(String(req.headers.authorization ?? ""));
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i < 0) return undefined;
  return { id: decodeURIComponent(text.slice(0, i)), secret: decodeURIComponent(text.slice(i + 1)) };
}

/** Client credentials want exactly one `{resource}/.default` scope (AADSTS1002012 otherwise). */
function resourceOf(ctx: SandboxContext, tenantId: string, scope: string): string {
  const scopes = scope
    .split(/\s+/)
    .filter((s) => s && !["openid", "profile", "offline_access", "email"].includes(s.toLowerCase()));
  const first = scopes[0];
  if (scopes.length !== 1 || !first || !first.toLowerCase().endsWith("/.default")) {
    throw new OAuthError(
      400,
      "invalid_scope",
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const requested = first.slice(0, -"/.default".length);
  const aud = canonicalResource(ctx, tenantId, requested);
  if (!aud)
    throw new OAuthError(
      400,
      "invalid_resource",
      500011,
      `The resource principal named ${requested} was not found in the tenant named ${tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    );
  return aud;
}

function checkSecret(ctx: SandboxContext, holder: DirectoryObjectSnapshot, secret: string): Outcome {
  const given = Buffer.from(secret, "utf8");
  const match = holder.passwordCredentials.find((p) => {
    const stored = Buffer.from(p.secretText, "utf8");
    return stored.length === given.length && timingSafeEqual(stored, given);
  });
  if (!match)
    throw new OAuthError(
      401,
      "invalid_client",
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${holder.appId}'.`,
    );
  const now = ctx.clock.now();
  if (Date.parse(match.endDateTime) < now)
    throw new OAuthError(
      401,
      "invalid_client",
      7000222,
      `The provided client secret keys for app '${holder.appId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
    );
  if (Date.parse(match.startDateTime) > now)
    throw new OAuthError(
      401,
      "invalid_client",
      7000215,
      `Invalid client secret provided. The secret for app '${holder.appId}' is not valid yet.`,
    );
  return { entry: { credentialType: "secret", credential: match.keyId, keyId: match.keyId } };
}

/**
 * Entra is eventually consistent (devblogs.microsoft.com/identity, "designing for eventual
 * consistency for Microsoft Entra"): with an `entra=stale/N` fault the token endpoint checks a
 * client's credentials as they were N ms ago on the virtual clock, so a certificate just added
 * through Graph is not usable at once (AADSTS700027), as in a tenant right after addKey.
 */
function replicated(
  ctx: SandboxContext,
  req: SandboxRequest,
  holder: DirectoryObjectSnapshot,
): DirectoryObjectSnapshot {
  const ms = ctx.faults.staleMs("entra", req.method, req.url.pathname);
  if (ms <= 0 || !(ctx.directory instanceof Directory)) return holder;
  const o = ctx.directory.object(holder.tenantId, holder.id);
  if (!o) return holder;
  const seen = staleView(o, ms, ctx.clock.now());
  return { ...holder, keyCredentials: seen.keyCredentials, passwordCredentials: seen.passwordCredentials };
}

/** The audiences Entra accepts in a client assertion: the tenant's token endpoints (v2 and v1). */
function assertionAudiences(ctx: SandboxContext, tenantSegment: string, tenantId: string): Set<string> {
  const base = ctx.urls.authorityHost.replace(/\/$/, "");
  const out = new Set<string>();
  for (const t of new Set([tenantSegment, tenantId])) {
    out.add(`${base}/${t}/oauth2/v2.0/token`.toLowerCase());
    out.add(`${base}/${t}/oauth2/token`.toLowerCase());
  }
  return out;
}

function checkCertificateAssertion(
  ctx: SandboxContext,
  tenantSegment: string,
  tenantId: string,
  holder: DirectoryObjectSnapshot,
  assertion: string,
): Outcome {
  const jwt = decodeJwt(assertion);
  if (!jwt) throw new OAuthError(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
  const alg = jwt.header.alg;
  if (alg !== "RS256" && alg !== "PS256")
    throw new OAuthError(
      401,
      "invalid_client",
      5002738,
      `Invalid JWT token. '${String(alg)}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256'.`,
    );
  // Find the key the client names: x5t#S256 (PS256 clients), x5t (SHA-1), or the x5c leaf.
  const s256 = typeof jwt.header["x5t#S256"] === "string" ? (jwt.header["x5t#S256"] as string) : undefined;
  const s1 = typeof jwt.header.x5t === "string" ? (jwt.header.x5t as string) : undefined;
  const x5c = Array.isArray(jwt.header.x5c) ? jwt.header.x5c[0] : undefined;
  let clientThumb = "";
  let match: StoredKeyCredential | undefined;
  for (const kc of holder.keyCredentials) {
    const info = certInfo(kc.key);
    if (
      (s256 && hexToB64url(info.sha256Hex) === s256) ||
      (s1 && hexToB64url(info.sha1Hex) === s1) ||
      (typeof x5c === "string" && !s1 && !s256 && Buffer.from(kc.key).toString("base64") === x5c)
    ) {
      match = kc;
      break;
    }
  }
  if (s1) clientThumb = Buffer.from(s1, "base64url").toString("hex").toUpperCase();
  else if (s256) clientThumb = Buffer.from(s256, "base64url").toString("hex").toUpperCase();
  const credential = match ? certInfo(match.key).sha1Hex : clientThumb || undefined;
  const entry = {
    credentialType: "certificate" as const,
    ...(credential ? { credential } : {}),
    ...(match ? { keyId: match.keyId } : {}),
  };
  const fail = (aadsts: number, status: number, error: string, message: string) => {
    const e = new OAuthError(status, error, aadsts, message);
    e.entry = entry;
    return e;
  };
  const portalHint = `Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${holder.appId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${holder.id}'`;
  if (!match)
    throw fail(
      700027,
      401,
      "invalid_client",
      `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${clientThumb}', ${portalHint}]`,
    );
  const now = ctx.clock.now();
  const start = Date.parse(match.startDateTime);
  const end = Date.parse(match.endDateTime);
  if (now > end || now < start)
    throw fail(
      700027,
      401,
      "invalid_client",
      `Client assertion contains an invalid signature. [Reason - The key used is ${now > end ? "expired" : "not yet valid"}., Thumbprint of key used by client: '${certInfo(match.key).sha1Hex}', Found key 'Start=${toEntraDate(match.startDateTime)}, End=${toEntraDate(match.endDateTime)}', ${portalHint}]`,
    );
  if (!verifyRsaSignature(jwt, certInfo(match.key).publicKey))
    throw fail(
      700027,
      401,
      "invalid_client",
      `Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${certInfo(match.key).sha1Hex}', ${portalHint}]`,
    );
  const p = jwt.payload;
  // Codes from entra-docs identity-platform/reference-error-codes.md: AADSTS50027 InvalidJwtToken
  // ("unexpected audience", "unexpected issuer", "token format isn't proper") and AADSTS50048
  // SubjectMismatchesIssuer ("Subject mismatches Issuer claim in the client assertion"). The
  // certificate-credentials page asks for `aud` as the token endpoint (one string): an array is
  // refused, the strictest reading.
  if (typeof p.aud !== "string")
    throw fail(
      50027,
      401,
      "invalid_client",
      `JWT token is invalid or malformed. The client assertion's 'aud' claim must be one string, the token endpoint ${ctx.urls.authorityHost}/${tenantSegment}/oauth2/v2.0/token.`,
    );
  const aud = p.aud;
  if (!assertionAudiences(ctx, tenantSegment, tenantId).has(aud.toLowerCase().replace(/\/$/, "")))
    throw fail(
      50027,
      401,
      "invalid_client",
      `JWT token is invalid or malformed: unexpected audience '${aud}'. The client assertion audience must be the token endpoint ${ctx.urls.authorityHost}/${tenantSegment}/oauth2/v2.0/token.`,
    );
  const iss = String(p.iss ?? "").toLowerCase();
  const sub = String(p.sub ?? "").toLowerCase();
  if (iss !== sub)
    throw fail(
      50048,
      401,
      "invalid_client",
      "Subject mismatches Issuer claim in the client assertion. The 'iss' and 'sub' claims must both be the client id.",
    );
  if (iss !== holder.appId)
    throw fail(
      50027,
      401,
      "invalid_client",
      `JWT token is invalid or malformed: unexpected issuer. The client assertion's 'iss' and 'sub' claims must both be the client id '${holder.appId}'.`,
    );
  const nbf = numberClaim(p, "nbf");
  const exp = numberClaim(p, "exp");
  if (exp === undefined || !timeWindowHolds(ctx.clock, nbf, exp, SKEW_SECONDS))
    throw fail(
      700024,
      400,
      "invalid_client",
      `Client assertion is not within its valid time range. Current time: ${isoNoMillis(ctx.clock)}, assertion valid from ${nbf !== undefined ? new Date(nbf * 1000).toISOString() : "(none)"}, expiry time of assertion ${exp !== undefined ? new Date(exp * 1000).toISOString() : "(none)"}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
    );
  return { entry };
}

function toEntraDate(iso: string): string {
  const d = new Date(iso);
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
}

/** Leg 1 of the agent exchange: the blueprint asks for a token for one of its agent identities. */
function exchangeClaims(
  ctx: SandboxContext,
  tenantId: string,
  app: DirectoryObjectSnapshot | undefined,
  principal: DirectoryObjectSnapshot,
  fmiPath: string,
  resource: string,
): Record<string, unknown> {
  if (app?.kind !== "agentIdentityBlueprint")
    throw new OAuthError(
      400,
      "invalid_request",
      82001,
      `fmi_path is only allowed for agent identity blueprints; '${principal.appId}' is not one.`,
    );
  if (resource !== TOKEN_EXCHANGE_AUDIENCE)
    throw new OAuthError(
      400,
      "invalid_scope",
      82001,
      `A request with fmi_path must ask for scope ${TOKEN_EXCHANGE_AUDIENCE}/.default.`,
    );
  const agent = ctx.directory.get(tenantId, fmiPath.toLowerCase());
  if (agent?.kind !== "agentIdentity" || agent.blueprintAppId !== app.appId)
    throw new OAuthError(
      400,
      "invalid_request",
      82001,
      `Agent identity '${fmiPath}' was not found, or is not a child of agent identity blueprint '${app.appId}'.`,
    );
  return { sub: agent.id, fmi_path: agent.id, idtyp: "app" };
}

/** Leg 2 of the agent exchange: the agent identity presents the blueprint's exchange token. */
async function agentIdentityLeg(
  ctx: SandboxContext,
  tenantId: string,
  agent: DirectoryObjectSnapshot,
  assertion: string | undefined,
  assertionType: string | undefined,
  secret: string | undefined,
): Promise<Outcome> {
  if (secret !== undefined || assertion === undefined || assertionType !== JWT_BEARER)
    throw new OAuthError(
      401,
      "invalid_client",
      7000112,
      `Agent identity '${agent.appId}' has no credentials of its own; present the exchange token of its agent identity blueprint as client_assertion.`,
    );
  let claims: Record<string, unknown>;
  try {
    claims = (await verifySandboxToken(ctx, assertion, TOKEN_EXCHANGE_AUDIENCE)) as Record<string, unknown>;
  } catch (e) {
    const expired = (e as { reason?: string }).reason === "expired";
    throw new OAuthError(
      expired ? 400 : 401,
      "invalid_client",
      expired ? 700024 : 700211,
      expired
        ? "Client assertion is not within its valid time range."
        : "No matching federated identity record found for presented assertion issuer.",
    );
  }
  if (
    claims.tid !== tenantId ||
    String(claims.sub ?? "").toLowerCase() !== agent.id ||
    String(claims.appid ?? "").toLowerCase() !== agent.blueprintAppId
  )
    throw new OAuthError(
      401,
      "invalid_client",
      700213,
      `No matching federated identity record found for presented assertion subject '${String(claims.sub)}'.`,
    );
  return { entry: { credentialType: "agentExchange", credential: String(claims.appid) } };
}
