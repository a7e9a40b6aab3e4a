/**
 * Local certificates: a PEM file or PEM text holding an X.509 certificate and its unencrypted
 * private key. Parsed and checked here (key present, key matches certificate) so that a bad file
 * fails with a message naming it, not with an opaque signature error from Entra later.
 */
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { EntraAgentIdError } from "./errors.js";

/** Public facts about the certificate in use (no key material). */
export interface CertificateInfo {
  /** SHA-1 thumbprint of the certificate DER, upper-case hex (what Entra and Key Vault show). */
  thumbprint: string;
  /** SHA-256 thumbprint, upper-case hex. */
  thumbprintSha256: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** Where it came from: the file path, "inline", or the Key Vault certificate id (with version). */
  source: string;
}

export interface LocalCertificate {
  info: CertificateInfo;
  /** Certificate then key, as ClientCertificateCredential takes it. */
  pem: string;
  /** The certificate alone, PEM. */
  certificatePem: string;
  privateKey: KeyObject;
  /** Hash of the file content, to notice real changes. */
  contentHash: string;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const KEY_BLOCK = /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END \1?PRIVATE KEY-----/;

export function certificateInfo(der: Uint8Array, source: string): CertificateInfo {
  const x = new X509Certificate(der);
  return {
    thumbprint: createHash("sha1").update(der).digest("hex").toUpperCase(),
    thumbprintSha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
    subject: x.subject,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    source,
  };
}

/**
 * Parses PEM text. `where` names the source in messages ("file /etc/…" or "option 'certificate'").
 */
export function parseCertificatePem(text: string, where: string, source: string): LocalCertificate {
  const certBlock = CERT_BLOCK.exec(text)?.[0];
  if (!certBlock)
    throw new EntraAgentIdError(
      "invalid_certificate",
      `${where} holds no certificate (no "-----BEGIN CERTIFICATE-----" block): give a PEM with the certificate followed by its private key`,
    );
  const keyMatch = KEY_BLOCK.exec(text);
  if (!keyMatch)
    throw new EntraAgentIdError(
      "invalid_certificate",
      `${where} holds no private key: append the certificate's private key as PEM ("-----BEGIN PRIVATE KEY-----"), e.g. \`cat cert.pem key.pem > combined.pem\`, or use keyVaultCertificate to keep the key in Key Vault`,
    );
  if (keyMatch[1] === "ENCRYPTED ")
    throw new EntraAgentIdError(
      "invalid_certificate",
      `${where} holds an encrypted private key: decrypt it (\`openssl pkey -in key.pem -out plain.pem\`) or use keyVaultCertificate`,
    );
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certBlock);
  } catch {
    throw new EntraAgentIdError(
      "invalid_certificate",
      `${where} holds a certificate block that is not a valid X.509 certificate: export the certificate again as PEM`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyMatch[0]);
  } catch {
    throw new EntraAgentIdError(
      "invalid_certificate",
      `${where} holds a private key block that cannot be read: export the key again as unencrypted PKCS#8 PEM`,
    );
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new EntraAgentIdError(
      "invalid_certificate",
      `${where}: the private key does not match the certificate (thumbprint ${createHash("sha1").update(x509.raw).digest("hex").toUpperCase()}): put the key that belongs to this certificate in the PEM`,
    );
  const der = new Uint8Array(x509.raw);
  const certificatePem = `${certBlock}\n`;
  return {
    info: certificateInfo(der, source),
    pem: `${certificatePem}${keyMatch[0]}\n`,
    certificatePem,
    privateKey,
    contentHash: createHash("sha256").update(text).digest("hex"),
  };
}

export async function readCertificateFile(path: string): Promise<LocalCertificate> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw unreadable(path, e);
  }
  return parseCertificatePem(text, `Certificate file '${path}'`, path);
}

/** Synchronous read, so that the constructor can reject a bad file at once. */
export function readCertificateFileSync(path: string): LocalCertificate {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw unreadable(path, e);
  }
  return parseCertificatePem(text, `Certificate file '${path}'`, path);
}

function unreadable(path: string, e: unknown): EntraAgentIdError {
  const code = (e as NodeJS.ErrnoException).code;
  const fix =
    code === "ENOENT"
      ? "check option 'certificatePath' (the file does not exist)"
      : code === "EACCES"
        ? "let this process read the file"
        : code === "EISDIR"
          ? "point certificatePath at the PEM file, not its directory"
          : "check the path and permissions";
  return new EntraAgentIdError(
    "invalid_certificate",
    `Cannot read certificate file '${path}' (${code ?? "error"}): ${fix}`,
  );
}
