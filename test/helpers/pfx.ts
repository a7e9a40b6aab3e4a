/**
 * Certificates to import into Key Vault, made the way a person makes them outside it: a leaf
 * issued by a test CA (so its issuer is not its subject), exported as a password-protected
 * PKCS#12 file in OpenSSL 3's default form (certificates in a PBES2/AES-256-CBC encrypted safe,
 * the key in a shrouded bag, an HMAC-SHA256 integrity MAC; RFC 7292, RFC 8018) or as PEM.
 */
import "reflect-metadata";
import {
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  pbkdf2Sync,
  randomBytes,
  webcrypto,
} from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

export interface IssuedCert {
  /** DER of the leaf and of the CA that issued it. */
  leaf: Buffer;
  ca: Buffer;
  /** PKCS#8 DER of the leaf's private key. */
  pkcs8: Buffer;
  subject: string;
  issuer: string;
  sha1Hex: string;
  notBefore: Date;
  notAfter: Date;
}

function serial(): string {
  return `01${randomBytes(8).toString("hex")}`;
}

export async function issuedCert(
  opts: { subject?: string; notBefore?: Date; notAfter?: Date } = {},
): Promise<IssuedCert> {
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const notBefore = opts.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 180 * 86400_000);
  const issuer = "CN=Contoso Test Issuing CA";
  const subject = opts.subject ?? "CN=imported.contoso.test";
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: issuer,
    notBefore: new Date(notBefore.getTime() - 86400_000),
    notAfter: new Date(notAfter.getTime() + 86400_000),
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(["1.3.6.1.5.5.7.3.2"], false),
    ],
  });
  const leafDer = Buffer.from(leaf.rawData);
  return {
    leaf: leafDer,
    ca: Buffer.from(ca.rawData),
    pkcs8: Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)),
    subject,
    issuer,
    sha1Hex: createHash("sha1").update(leafDer).digest("hex").toUpperCase(),
    notBefore,
    notAfter,
  };
}

// --- DER writer -------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const ctx0 = (b: Buffer) => tlv(0xa0, b);
function int(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0] as number) & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}
function oid(dotted: string): Buffer {
  const p = dotted.split(".").map(Number);
  const out = [40 * (p[0] as number) + (p[1] as number)];
  for (const x of p.slice(2)) {
    const chunk = [x & 0x7f];
    for (let v = Math.floor(x / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
const data = (content: Buffer) => seq(oid("1.2.840.113549.1.7.1"), ctx0(octets(content)));

/** RFC 7292 appendix B.2: `n` bytes for `id` (1 key, 2 IV, 3 MAC key) from the password. */
function pkcs12Derive(
  hash: "sha1" | "sha256",
  password: string,
  salt: Buffer,
  iterations: number,
  id: number,
  n: number,
): Buffer {
  const u = hash === "sha1" ? 20 : 32;
  const v = 64;
  const pwd = Buffer.alloc((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) pwd.writeUInt16BE(password.charCodeAt(i), i * 2);
  const fill = (src: Buffer) => {
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length] as number;
    return out;
  };
  const block = Buffer.concat([fill(salt), fill(pwd)]);
  const out: Buffer[] = [];
  while (out.length * u < n) {
    let a = createHash(hash).update(Buffer.alloc(v, id)).update(block).digest();
    for (let i = 1; i < iterations; i++) a = createHash(hash).update(a).digest();
    out.push(a);
    for (let j = 0; j < block.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (block[j + k] as number) + (a[k % u] as number) + carry;
        block[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

/**
 * A PKCS#12 file as `openssl pkcs12 -export` (OpenSSL 3) writes it, protected by `password`; with
 * `legacy`, the certificates are encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC and the MAC is
 * HMAC-SHA1, as .NET's `X509Certificate2.Export(Pfx)` and OpenSSL 1.x write them.
 */
export function encryptedPfx(
  certs: Buffer[],
  pkcs8: Buffer,
  password: string,
  opts: { legacy?: boolean } = {},
): Buffer {
  const iterations = 2048;
  const localKeyId = createHash("sha1")
    .update(certs[0] as Buffer)
    .digest();
  const attrs = tlv(0x31, seq(oid("1.2.840.113549.1.9.21"), tlv(0x31, octets(localKeyId))));
  const certBags = certs.map((c, i) =>
    seq(
      oid("1.2.840.113549.1.12.10.1.3"),
      ctx0(seq(oid("1.2.840.113549.1.9.22.1"), ctx0(octets(c)))),
      ...(i === 0 ? [attrs] : []),
    ),
  );
  const salt = randomBytes(8);
  let algorithm: Buffer;
  let encrypted: Buffer;
  if (opts.legacy) {
    // Certificates: pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 appendix C).
    const key = pkcs12Derive("sha1", password, salt, iterations, 1, 24);
    const iv = pkcs12Derive("sha1", password, salt, iterations, 2, 8);
    const cipher = createCipheriv("des-ede3-cbc", key, iv);
    encrypted = Buffer.concat([cipher.update(seq(...certBags)), cipher.final()]);
    algorithm = seq(oid("1.2.840.113549.1.12.1.3"), seq(octets(salt), int(iterations)));
  } else {
    // Certificates: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) encrypted safe.
    const iv = randomBytes(16);
    const key = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    encrypted = Buffer.concat([cipher.update(seq(...certBags)), cipher.final()]);
    algorithm = seq(
      oid("1.2.840.113549.1.5.13"),
      seq(
        seq(
          oid("1.2.840.113549.1.5.12"),
          seq(octets(salt), int(iterations), seq(oid("1.2.840.113549.2.9"), Buffer.from([5, 0]))),
        ),
        seq(oid("2.16.840.1.101.3.4.1.42"), octets(iv)),
      ),
    );
  }
  const encryptedData = seq(
    oid("1.2.840.113549.1.7.6"),
    ctx0(seq(int(0), seq(oid("1.2.840.113549.1.7.1"), algorithm, tlv(0x80, encrypted)))),
  );
  // Key: a shrouded bag (Node writes EncryptedPrivateKeyInfo with PBES2).
  const shrouded = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({
    type: "pkcs8",
    format: "der",
    cipher: "aes-256-cbc",
    passphrase: password,
  }) as Buffer;
  const keySafe = data(seq(seq(oid("1.2.840.113549.1.12.10.1.2"), ctx0(shrouded), attrs)));
  const authSafe = seq(encryptedData, keySafe);
  const macSalt = randomBytes(8);
  const macHash = opts.legacy ? "sha1" : "sha256";
  const mac = createHmac(
    macHash,
    pkcs12Derive(macHash, password, macSalt, iterations, 3, macHash === "sha1" ? 20 : 32),
  )
    .update(authSafe)
    .digest();
  const macData = seq(
    seq(seq(oid(opts.legacy ? "1.3.14.3.2.26" : "2.16.840.1.101.3.4.2.1"), Buffer.from([5, 0])), octets(mac)),
    octets(macSalt),
    int(iterations),
  );
  return seq(int(3), data(authSafe), macData);
}

export function pemOf(der: Buffer, label: string): string {
  return `-----BEGIN ${label}-----\n${(der.toString("base64").match(/.{1,64}/g) ?? []).join("\n")}\n-----END ${label}-----\n`;
}
