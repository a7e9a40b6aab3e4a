/**
 * Entra: credentials Rollover uses, and the proof that a new certificate works.
 *
 * A target's own credential is a `ClientAssertionCredential` whose assertion Key Vault signs
 * with the key of one of the target's certificates. Verifying a new certificate means acquiring
 * a token with exactly that credential; Entra takes a while to accept a key that was just added,
 * so verification retries with back-off up to a bounded window before it fails.
 */
import { ClientAssertionCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { type CertificateRef, clientAssertion, type DigestSigner } from "./signed-jwt.js";

const MICROSOFT_AUTHORITIES = [
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
  "login.partner.microsoftonline.cn",
];

export interface EntraSettings {
  authorityHost: string;
  /** Rollover's user-assigned managed identity, if any. */
  clientId?: string | undefined;
}

export function authorityOptions(authorityHost: string): {
  authorityHost: string;
  disableInstanceDiscovery?: boolean;
} {
  const host = new URL(authorityHost).hostname.toLowerCase();
  // Instance discovery only knows Microsoft's clouds; a custom authority (the sandbox) turns it off.
  return MICROSOFT_AUTHORITIES.includes(host)
    ? { authorityHost }
    : { authorityHost, disableInstanceDiscovery: true };
}

/** Rollover's own credential: the managed identity in Azure, a developer's sign-in elsewhere. */
export function rolloverCredential(s: EntraSettings): TokenCredential {
  return new DefaultAzureCredential({
    ...authorityOptions(s.authorityHost),
    ...(s.clientId ? { managedIdentityClientId: s.clientId } : {}),
  });
}

export function tokenEndpoint(authorityHost: string, tenantId: string): string {
  return `${authorityHost.replace(/\/+$/, "")}/${tenantId}/oauth2/v2.0/token`;
}

/** How long a signed client assertion (valid ten minutes, signed-jwt.ts) is handed out again. */
const ASSERTION_REUSE_MS = 60_000;

/** A credential that signs in *as the target*, with a certificate whose key is in Key Vault. */
export function certificateCredential(opts: {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  certificate: CertificateRef;
  sign: DigestSigner;
  now: () => number;
}): TokenCredential {
  const endpoint = tokenEndpoint(opts.authorityHost, opts.tenantId);
  // MSAL asks for the assertion twice per token request (once building its client, once for the
  // request itself); each ask would cost a Key Vault `sign`. A signed assertion is reused for a
  // minute of its ten-minute life, as MSAL reuses the assertions it signs itself until they
  // expire (msal-node ClientAssertion.getJwt).
  let made: { at: number; assertion: Promise<string> } | undefined;
  return new ClientAssertionCredential(
    opts.tenantId,
    opts.clientId,
    () => {
      const now = opts.now();
      if (!made || now - made.at >= ASSERTION_REUSE_MS || now < made.at) {
        const assertion = clientAssertion({
          clientId: opts.clientId,
          tokenEndpoint: endpoint,
          certificate: opts.certificate,
          sign: opts.sign,
          now,
        });
        made = { at: now, assertion };
        // A failed signature is not kept: the next ask signs again.
        assertion.catch(() => {
          if (made?.assertion === assertion) made = undefined;
        });
      }
      return made.assertion;
    },
    authorityOptions(opts.authorityHost),
  );
}

export interface VerifyResult {
  ok: boolean;
  attempts: number;
  /** The AADSTS code of the last failure, if any. */
  errorCode?: number;
  message?: string;
}

/** AADSTS codes that mean "this key is not (yet) accepted" — worth retrying while Entra replicates. */
const RETRYABLE = new Set([700027, 700024, 7000214, 1000502, 700016, 7000215]);

export function aadstsCode(e: unknown): number | undefined {
  const m = /AADSTS(\d+)/.exec(String((e as Error)?.message ?? e));
  return m ? Number(m[1]) : undefined;
}

/**
 * Acquires a token with `credential` for `scope`, retrying with back-off (1 s, 2 s, 4 s … capped
 * at 30 s) until `timeoutMs` has passed. Returns the outcome; never throws for an auth failure.
 */
export async function verifyCredential(
  credential: TokenCredential,
  scope: string,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  /** Aborted (the binding's lease was lost): stop retrying at once. */
  signal?: AbortSignal,
): Promise<VerifyResult> {
  const started = Date.now();
  let attempts = 0;
  let delay = 1000;
  for (;;) {
    if (signal?.aborted) throw signal.reason ?? new Error("verify aborted");
    attempts += 1;
    try {
      const t = await credential.getToken(scope, signal ? { abortSignal: signal } : {});
      if (t?.token) return { ok: true, attempts };
      throw new Error("no token returned");
    } catch (e) {
      const code = aadstsCode(e);
      const first = String((e as Error)?.message ?? e)
        .split("\n")[0]!
        .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, "[jwt]")
        .slice(0, 160);
      const message = `${code ? `AADSTS${code}` : `token request failed (${first})`} after ${attempts} attempt(s)`;
      const retryable = code === undefined || RETRYABLE.has(code);
      if (!retryable || Date.now() - started + delay > timeoutMs) {
        return { ok: false, attempts, ...(code !== undefined ? { errorCode: code } : {}), message };
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

/**
 * Who holds a credential, from the claims of a token it gets (the token itself is never kept
 * nor shown): user principal name (or preferred_username, or app id) and object id. For audit
 * records of what a person did on purpose (`rollover adopt`).
 */
export async function credentialActor(credential: TokenCredential, scope: string): Promise<string> {
  const t = await credential.getToken(scope);
  if (!t?.token) throw new Error("the credential returned no token; cannot tell who is acting");
  let claims: Record<string, unknown> = {};
  try {
    claims = JSON.parse(Buffer.from(t.token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<
      string,
      unknown
    >;
  } catch {
    throw new Error("the credential's token has no readable claims; cannot tell who is acting");
  }
  const oid = typeof claims.oid === "string" ? claims.oid : undefined;
  const name = [claims.upn, claims.preferred_username, claims.unique_name, claims.appid, claims.azp].find(
    (x): x is string => typeof x === "string" && x.length > 0,
  );
  if (!oid && !name) throw new Error("the credential's token names no principal (no oid, upn or appid)");
  return [name, oid ? `oid ${oid}` : undefined].filter(Boolean).join(" ").slice(0, 200);
}
