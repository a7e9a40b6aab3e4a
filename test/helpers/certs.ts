/**
 * Self-signed RSA test certificates (via @peculiar/x509 on Node's WebCrypto), with everything a
 * test needs to register one in the sandbox directory and to sign with it: PEM certificate and
 * PKCS#8 key, DER bytes, SHA-1/SHA-256 thumbprints and their base64url header forms.
 */
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface TestCert {
  certPem: string;
  keyPem: string;
  /** Certificate then key, as `ClientCertificateCredential` takes it. */
  pem: string;
  der: Uint8Array;
  /** Base64 of the DER (Graph's keyCredential `key`). */
  base64: string;
  sha1Hex: string;
  sha256Hex: string;
  /** `x5t` (base64url SHA-1). */
  x5t: string;
  /** `x5t#S256` (base64url SHA-256). */
  x5tS256: string;
  notBefore: Date;
  notAfter: Date;
}

export async function makeCert(
  opts: { subject?: string; notBefore?: Date; notAfter?: Date; keySize?: number } = {},
): Promise<TestCert> {
  const alg = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: opts.keySize ?? 2048,
  };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto
      .getRandomValues(new Uint8Array(8))
      .reduce((s, b) => s + b.toString(16).padStart(2, "0"), "01"),
    name: opts.subject ?? "CN=rollover-test",
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const der = new Uint8Array(cert.rawData);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trim()}\n-----END PRIVATE KEY-----\n`;
  const certPem = `${cert.toString("pem")}\n`;
  const sha1 = createHash("sha1").update(der).digest();
  const sha256 = createHash("sha256").update(der).digest();
  return {
    certPem,
    keyPem,
    pem: `${certPem}${keyPem}`,
    der,
    base64: Buffer.from(der).toString("base64"),
    sha1Hex: sha1.toString("hex").toUpperCase(),
    sha256Hex: sha256.toString("hex").toUpperCase(),
    x5t: sha1.toString("base64url"),
    x5tS256: sha256.toString("base64url"),
    notBefore,
    notAfter,
  };
}
