/**
 * The sandbox's own certificate authority and server certificate.
 *
 * Azure SDK clients insist on HTTPS (MSAL rejects an `http:` authority; the Graph client only
 * attaches tokens to `https://` URLs), so the sandbox serves TLS with a CA it generates on first
 * start and keeps under its state directory. Clients trust it through `NODE_EXTRA_CA_CERTS`.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface TlsMaterial {
  caCertPem: string;
  caCertPath: string;
  certPem: string;
  keyPem: string;
}

const RSA: RsaHashedKeyGenParams = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Loads the CA and server certificate from `stateDir`, creating them on first use. */
export async function ensureTls(stateDir: string): Promise<TlsMaterial> {
  mkdirSync(stateDir, { recursive: true });
  const caCertPath = join(stateDir, "sandbox-ca.pem");
  const certPath = join(stateDir, "sandbox-server.pem");
  const keyPath = join(stateDir, "sandbox-server.key");
  if (existsSync(caCertPath) && existsSync(certPath) && existsSync(keyPath)) {
    return {
      caCertPem: readFileSync(caCertPath, "utf8"),
      caCertPath,
      certPem: readFileSync(certPath, "utf8"),
      keyPem: readFileSync(keyPath, "utf8"),
    };
  }
  const now = Date.now();
  const notBefore = new Date(now - 24 * 3600_000);
  const notAfter = new Date(now + 10 * 365 * 24 * 3600_000);
  const caKeys = (await webcrypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=Rollover Sandbox CA",
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const serverKeys = (await webcrypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as CryptoKeyPair;
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=localhost",
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: caKeys.privateKey,
    publicKey: serverKeys.publicKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const keyDer = await webcrypto.subtle.exportKey("pkcs8", serverKeys.privateKey);
  const material: TlsMaterial = {
    caCertPem: `${ca.toString("pem")}\n`,
    caCertPath,
    certPem: `${server.toString("pem")}\n`,
    keyPem: toPem(keyDer, "PRIVATE KEY"),
  };
  writeFileSync(caCertPath, material.caCertPem);
  writeFileSync(certPath, material.certPem);
  writeFileSync(keyPath, material.keyPem, { mode: 0o600 });
  return material;
}
