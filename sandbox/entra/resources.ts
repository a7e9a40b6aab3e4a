/**
 * Resources a token can be asked for, and what the sandbox puts in `aud`. Entra accepts a
 * resource by its application ID URI or its appId; a token's `aud` for Microsoft Graph, Key Vault
 * and Azure Monitor is the URI without a trailing slash.
 */
import type { VirtualClock } from "../clock.js";
import { TokenError, type AccessTokenClaims } from "../tokens.js";
import type { SandboxContext } from "../types.js";
import { decodeJwt, numberClaim, realNowSeconds } from "./jwt.js";

export const GRAPH_RESOURCE = "https://graph.microsoft.com";
export const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
export const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

const WELL_KNOWN: Record<string, string> = {
  "https://graph.microsoft.com": GRAPH_RESOURCE,
  [GRAPH_APP_ID]: GRAPH_RESOURCE,
  "https://vault.azure.net": "https://vault.azure.net",
  "cfa8b339-82a2-471a-a3c9-0fc0be7a4093": "https://vault.azure.net",
  "https://monitor.azure.com": "https://monitor.azure.com",
  "https://management.azure.com": "https://management.azure.com",
  "https://management.core.windows.net": "https://management.core.windows.net",
  "https://storage.azure.com": "https://storage.azure.com",
  "api://azureadtokenexchange": TOKEN_EXCHANGE_AUDIENCE,
};

/** The `aud` for a requested resource, or `undefined` when no such resource principal exists. */
export function canonicalResource(
  ctx: SandboxContext,
  tenantId: string,
  resource: string,
): string | undefined {
  const r = resource.trim().replace(/\/+$/, "");
  const known = WELL_KNOWN[r.toLowerCase()];
  if (known) return known;
  // An application of the tenant, by appId or `api://{appId}`.
  const m = /^(?:api:\/\/)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(r);
  if (m?.[1] && ctx.directory.findByAppId(tenantId, m[1])) return r;
  return undefined;
}

/**
 * Verifies a token this sandbox issued. Expiry is judged on the virtual clock or, failing that,
 * on the real one: a client caches a token by its own (real) clock, which the virtual clock's
 * jumps do not move (see jwt.ts).
 */
export async function verifySandboxToken(
  ctx: SandboxContext,
  token: string | undefined,
  audience: string | string[],
): Promise<AccessTokenClaims> {
  try {
    return await ctx.tokens.verify(token, audience);
  } catch (e) {
    if (!(e instanceof TokenError) || e.reason !== "expired" || !token) throw e;
    // jose checks the signature before the time claims, so an "expired" verdict means it is ours.
    const payload = decodeJwt(token)?.payload;
    const exp = payload ? numberClaim(payload, "exp") : undefined;
    if (payload && exp !== undefined && realNowSeconds(ctx.clock) <= exp) {
      const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      const wanted = (Array.isArray(audience) ? audience : [audience]).map((a) => a.replace(/\/$/, ""));
      if (aud.some((a) => typeof a === "string" && wanted.includes(a.replace(/\/$/, ""))))
        return payload as unknown as AccessTokenClaims;
    }
    throw e;
  }
}

export function isoNoMillis(clock: VirtualClock): string {
  return new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
}
