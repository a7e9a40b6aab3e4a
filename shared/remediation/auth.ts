/**
 * The secure-webhook check of remediateAlert (on with ROLLOVER_ALERT_SECURE_WEBHOOK): an Action
 * Group with "Secure webhook" sends `Authorization: Bearer <token>`, a token Microsoft Entra
 * issued to the Azure Monitor Action Group application for the webhook's app registration. The
 * check: the algorithm pinned to RS256 (Entra signs access tokens with RS256; `none`, HS* and
 * other algorithms are refused before any key is looked at), signature against the tenant's
 * signing keys, `exp` required and not passed, `nbf` not in the future, the issuer exactly the
 * tenant's (v1 or v2 form), `tid` exactly the tenant, `aud` one of the configured audiences,
 * `appid`/`azp` the Action Group application, and the `ActionGroupsSecureWebhook` role.
 * The token text never appears in an error.
 * Source: https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens
 */
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";

export const SECURE_WEBHOOK_ROLE = "ActionGroupsSecureWebhook";
/** The Azure Monitor Action Group first-party application. */
export const ACTION_GROUP_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a";

export interface SecureWebhookSettings {
  tenantId: string;
  authorityHost: string;
  audiences: readonly string[];
  actionGroupAppId: string;
  now?: () => number;
  /** Signing keys (default: the tenant's JWKS at the authority). */
  keys?: JWTVerifyGetKey;
}

export class WebhookAuthError extends Error {
  override name = "WebhookAuthError";
}

const jwksCache = new Map<string, JWTVerifyGetKey>();

function tenantKeys(authorityHost: string, tenantId: string): JWTVerifyGetKey {
  const url = `${authorityHost.replace(/\/+$/, "")}/${tenantId}/discovery/v2.0/keys`;
  let keys = jwksCache.get(url);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(url));
    jwksCache.set(url, keys);
  }
  return keys;
}

/** Checks the Authorization header; throws WebhookAuthError with a one-line reason. */
export async function checkSecureWebhook(
  authorization: string | null | undefined,
  s: SecureWebhookSettings,
): Promise<{ appId: string }> {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "");
  if (!m) throw new WebhookAuthError("missing bearer token (secure webhook is on)");
  if (s.audiences.length === 0) {
    throw new WebhookAuthError("no audience configured: set ROLLOVER_ALERT_WEBHOOK_AUDIENCES");
  }
  const host = s.authorityHost.replace(/\/+$/, "");
  let payload: Record<string, unknown>;
  try {
    const r = await jwtVerify(m[1]!, s.keys ?? tenantKeys(host, s.tenantId), {
      algorithms: ["RS256"],
      requiredClaims: ["exp", "iss", "aud", "tid"],
      issuer: [`https://sts.windows.net/${s.tenantId}/`, `${host}/${s.tenantId}/v2.0`],
      audience: [...s.audiences],
      currentDate: new Date((s.now ?? Date.now)()),
      clockTolerance: 300,
    });
    payload = r.payload as Record<string, unknown>;
  } catch (e) {
    const code = (e as { code?: string }).code ?? "ERR_JWT_INVALID";
    const why: Record<string, string> = {
      ERR_JWT_EXPIRED: "the token has expired",
      ERR_JWT_CLAIM_VALIDATION_FAILED: `claim check failed (${(e as { claim?: string }).claim ?? "?"})`,
      ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "the token's signature does not verify",
      ERR_JWKS_NO_MATCHING_KEY: "the token is not signed by a key of the tenant",
      ERR_JOSE_ALG_NOT_ALLOWED: "the token's algorithm is not RS256",
    };
    throw new WebhookAuthError(`bearer token rejected: ${why[code] ?? "not a valid token"}`);
  }
  if (String(payload.tid ?? "").toLowerCase() !== s.tenantId.toLowerCase()) {
    throw new WebhookAuthError("bearer token rejected: issued for another tenant (tid)");
  }
  const appId = String(payload.appid ?? payload.azp ?? "").toLowerCase();
  if (appId !== s.actionGroupAppId.toLowerCase()) {
    throw new WebhookAuthError("bearer token rejected: not issued to the Azure Monitor Action Group");
  }
  const roles = Array.isArray(payload.roles) ? payload.roles : [];
  if (!roles.includes(SECURE_WEBHOOK_ROLE)) {
    throw new WebhookAuthError(`bearer token rejected: no ${SECURE_WEBHOOK_ROLE} role`);
  }
  return { appId };
}
