/**
 * The client assertion (RFC 7523 JWT) that proves a certificate to Entra, for keys that sign
 * elsewhere (Key Vault). Header `alg: PS256` with `x5t#S256` (the SHA-256 thumbprint), as the
 * current Entra documentation and MSAL send it; claims `aud` = the token endpoint, `iss` = `sub` =
 * client id, a fresh `jti`, `nbf`/`exp` ten minutes apart (entra-docs certificate-credentials.md).
 */
import { createHash, randomUUID } from "node:crypto";
import { base64url } from "jose";

/** Signs a SHA-256 digest with RSASSA-PSS (PS256); returns the raw signature. */
export type DigestSigner = (alg: "PS256", digest: Uint8Array) => Promise<Uint8Array>;

export const ASSERTION_LIFETIME_SECONDS = 600;

export async function buildClientAssertion(opts: {
  clientId: string;
  tokenEndpoint: string;
  /** SHA-256 thumbprint of the certificate DER, hex. */
  thumbprintSha256: string;
  sign: DigestSigner;
  /** Epoch ms. Assertions are stamped with the process clock: Entra judges them by its own. */
  now?: number;
}): Promise<string> {
  const nowS = Math.floor((opts.now ?? Date.now()) / 1000);
  const header = {
    alg: "PS256",
    typ: "JWT",
    "x5t#S256": base64url.encode(Buffer.from(opts.thumbprintSha256, "hex")),
  };
  const payload = {
    aud: opts.tokenEndpoint,
    iss: opts.clientId,
    sub: opts.clientId,
    jti: randomUUID(),
    nbf: nowS,
    iat: nowS,
    exp: nowS + ASSERTION_LIFETIME_SECONDS,
  };
  const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}`;
  const digest = createHash("sha256").update(input).digest();
  const signature = await opts.sign("PS256", digest);
  return `${input}.${base64url.encode(signature)}`;
}

export function tokenEndpoint(authorityHost: string, tenantId: string): string {
  return `${authorityHost.replace(/\/+$/, "")}/${tenantId}/oauth2/v2.0/token`;
}
