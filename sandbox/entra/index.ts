/** Entra: OIDC discovery, JWKS, the token endpoint, the managed identity endpoint, the sign-in log. */
import type { Route, SandboxRequest, SandboxResponse } from "../http.js";
import type { SandboxContext, SignInEntry, SignInLog } from "../types.js";
import { msiTokenHandler } from "./msi.js";
import { oauthError, resolveTenant, tokenHandler } from "./token.js";

export { GRAPH_RESOURCE, TOKEN_EXCHANGE_AUDIENCE, verifySandboxToken } from "./resources.js";

export function createSignInLog(): SignInLog {
  let list: SignInEntry[] = [];
  return {
    add: (e) => {
      list.push(e);
    },
    entries: () => [...list],
    reset: () => {
      list = [];
    },
  };
}

/**
 * OpenID Provider metadata for a tenant, in the shape of
 * `https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration`. MSAL needs
 * `authorization_endpoint`, `token_endpoint`, `issuer` and `jwks_uri` (research graph-entra.md §4.4).
 */
function openIdConfiguration(ctx: SandboxContext, tenant: string): Record<string, unknown> {
  const base = ctx.urls.authorityHost.replace(/\/$/, "");
  return {
    token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${base}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: "https://graph.microsoft.com/oidc/userinfo",
    authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid"],
    kerberos_endpoint: `${base}/${tenant}/kerberos`,
    tenant_region_scope: "WW",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
    rbac_url: "https://pas.windows.net",
  };
}

export function entraRoutes(ctx: SandboxContext): Route[] {
  const unknownTenant = (req: SandboxRequest, tenant: string): SandboxResponse =>
    oauthError(
      ctx,
      req,
      400,
      "invalid_tenant",
      `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    );
  const keys = (req: SandboxRequest): SandboxResponse => {
    const tenant = req.params.tenant ?? "";
    if (tenant !== "common" && tenant !== "organizations" && !resolveTenant(ctx, tenant))
      return unknownTenant(req, tenant);
    return { status: 200, body: ctx.tokens.jwks() };
  };
  return [
    {
      service: "entra",
      method: "GET",
      path: "/:tenant/v2.0/.well-known/openid-configuration",
      handler: (req) => {
        const tenant = req.params.tenant ?? "";
        if (!resolveTenant(ctx, tenant)) return unknownTenant(req, tenant);
        return { status: 200, body: openIdConfiguration(ctx, tenant) };
      },
    },
    { service: "entra", method: "GET", path: "/:tenant/discovery/v2.0/keys", handler: keys },
    { service: "entra", method: "GET", path: "/:tenant/discovery/keys", handler: keys },
    {
      // Instance discovery, for clients that do not disable it (research graph-entra.md §4.4).
      service: "entra",
      method: "GET",
      path: "/common/discovery/instance",
      handler: (req) => {
        const host = new URL(ctx.urls.authorityHost).host;
        const tenant =
          /\/\/[^/]+\/([^/]+)\//.exec(req.query.get("authorization_endpoint") ?? "")?.[1] ?? "common";
        return {
          status: 200,
          body: {
            tenant_discovery_endpoint: `${ctx.urls.authorityHost.replace(/\/$/, "")}/${tenant}/v2.0/.well-known/openid-configuration`,
            "api-version": "1.1",
            metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
          },
        };
      },
    },
    { service: "entra", method: "POST", path: "/:tenant/oauth2/v2.0/token", handler: tokenHandler(ctx) },
  ];
}

export function msiRoutes(ctx: SandboxContext): Route[] {
  return [{ service: "msi", method: "GET", path: "/msi/token", handler: msiTokenHandler(ctx) }];
}
