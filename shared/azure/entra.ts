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
  return new ClientAssertionCredential(
    opts.tenantId,
    opts.clientId,
    () =>
      clientAssertion({
        clientId: opts.clientId,
        tokenEndpoint: endpoint,
        certificate: opts.certificate,
        sign: opts.sign,
        now: opts.now(),
      }),
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
): Promise<VerifyResult> {
  const started = Date.now();
  let attempts = 0;
  let delay = 1000;
  for (;;) {
    attempts += 1;
    try {
      const t = await credential.getToken(scope);
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
