/**
 * JWTs whose signature Key Vault makes: the client assertion that proves a certificate to Entra,
 * and the proof-of-possession Graph wants for addKey/removeKey. The private key never leaves
 * Key Vault: we hash `header.payload` here and ask Key Vault to sign the digest.
 *
 * Sources: Entra certificate credentials (entra-docs certificate-credentials.md: `aud` = token
 * endpoint, `iss` = `sub` = client id, `x5t` / `x5t#S256`); Graph proof token
 * (application-rollkey-prooftoken.md: `aud` 00000002-0000-0000-c000-000000000000, `iss` =
 * object id, lifetime at most 10 minutes, no `=` padding).
 */
import { createHash, randomUUID } from "node:crypto";
import { base64url } from "jose";

/** Signs a digest with a Key Vault key; `alg` is a JWS algorithm Key Vault knows (RS256, PS256). */
export type DigestSigner = (alg: "RS256" | "PS256", digest: Uint8Array) => Promise<Uint8Array>;

export interface CertificateRef {
  /** SHA-1 thumbprint, upper-case hex. */
  thumbprintHex: string;
  /** SHA-256 of the certificate DER, upper-case hex (for `x5t#S256`), when known. */
  sha256Hex?: string;
}

function encodeJson(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

function hexToB64url(hex: string): string {
  return base64url.encode(Buffer.from(hex, "hex"));
}

export async function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  alg: "RS256" | "PS256",
  sign: DigestSigner,
): Promise<string> {
  const input = `${encodeJson({ ...header, alg, typ: "JWT" })}.${encodeJson(payload)}`;
  const digest = createHash("sha256").update(input).digest();
  const signature = await sign(alg, digest);
  return `${input}.${base64url.encode(signature)}`;
}

/**
 * A client assertion for the client-credentials grant. PS256 with `x5t#S256` where the SHA-256
 * thumbprint is known (what @azure/identity 4.x sends); RS256 with `x5t` otherwise.
 */
export function clientAssertion(opts: {
  clientId: string;
  tokenEndpoint: string;
  certificate: CertificateRef;
  sign: DigestSigner;
  now: number;
}): Promise<string> {
  const nowS = Math.floor(opts.now / 1000);
  const payload = {
    aud: opts.tokenEndpoint,
    iss: opts.clientId,
    sub: opts.clientId,
    jti: randomUUID(),
    iat: nowS,
    nbf: nowS,
    exp: nowS + 600,
  };
  if (opts.certificate.sha256Hex) {
    return signJwt({ "x5t#S256": hexToB64url(opts.certificate.sha256Hex) }, payload, "PS256", opts.sign);
  }
  return signJwt({ x5t: hexToB64url(opts.certificate.thumbprintHex) }, payload, "RS256", opts.sign);
}

/** The proof-of-possession JWT for Graph's addKey/removeKey, signed by a key already on the object. */
export function proofOfPossession(opts: {
  objectId: string;
  certificate: CertificateRef;
  sign: DigestSigner;
  now: number;
}): Promise<string> {
  const nowS = Math.floor(opts.now / 1000);
  return signJwt(
    { x5t: hexToB64url(opts.certificate.thumbprintHex) },
    {
      aud: "00000002-0000-0000-c000-000000000000",
      iss: opts.objectId,
      nbf: nowS,
      exp: nowS + 600,
      jti: randomUUID(),
    },
    "RS256",
    opts.sign,
  );
}
