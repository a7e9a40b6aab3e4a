/**
 * Parsed certificates, cached by content: the token endpoint and Graph's proof-of-possession
 * check look keys up by thumbprint many times, and seeds attach one DER to many objects, so each
 * distinct certificate is parsed (by Node's native X.509 parser) at most once.
 */
import { createHash, type KeyObject, X509Certificate } from "node:crypto";

export interface CertInfo {
  /** SHA-1 of the DER, upper-case hex (what Entra's sign-in log and `x5t` name). */
  sha1Hex: string;
  /** SHA-256 of the DER, upper-case hex (`x5t#S256`). */
  sha256Hex: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
}

const byBuffer = new WeakMap<Uint8Array, CertInfo>();
const byHash = new Map<string, CertInfo>();
const MAX_CACHED = 20_000;

export function sha1Hex(der: Uint8Array): string {
  return createHash("sha1").update(der).digest("hex").toUpperCase();
}

/** Parses (or returns the cached parse of) a DER certificate; throws on bytes that are not one. */
export function certInfo(der: Uint8Array): CertInfo {
  const hit = byBuffer.get(der);
  if (hit) return hit;
  const sha1 = sha1Hex(der);
  let info = byHash.get(sha1);
  if (!info) {
    const cert = new X509Certificate(der);
    info = {
      sha1Hex: sha1,
      sha256Hex: createHash("sha256").update(der).digest("hex").toUpperCase(),
      subject: cert.subject.replace(/\n/g, ", "),
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
      publicKey: cert.publicKey,
    };
    if (byHash.size >= MAX_CACHED) byHash.clear();
    byHash.set(sha1, info);
  }
  byBuffer.set(der, info);
  return info;
}

/** Hex thumbprint to base64url (the `x5t` / `x5t#S256` header form) and back. */
export function hexToB64url(hex: string): string {
  return Buffer.from(hex, "hex").toString("base64url");
}

export function b64urlToHex(b64: string): string {
  return Buffer.from(b64, "base64url").toString("hex").toUpperCase();
}
