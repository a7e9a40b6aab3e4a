/**
 * The cryptography behind the sandbox's vault: RSA key pairs (kept in memory only), real X.509
 * issuance for the `Self` issuer, certificate signing requests for other issuers, and the
 * `sign`/`verify` key operations over a digest, as Key Vault performs them.
 */
import "reflect-metadata";
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  timingSafeEqual,
  webcrypto,
} from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const SIGNING: RsaHashedImportParams = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

/** A key pair the vault holds. The private key never leaves this process's memory. */
export interface KeyMaterial {
  size: number;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The same private key as a Node KeyObject, for digest signing. */
  keyObject: KeyObject;
  /** PKCS#8 DER of the private key (only ever serialised into an exportable certificate's secret). */
  pkcs8: Buffer;
  /** Public modulus and exponent, base64url (JWK `n`, `e`). */
  n: string;
  e: string;
}

/** A new RSA key pair of `size` bits (RS256 on WebCrypto), with its PKCS#8 form and public JWK parts. */
export async function generate(size: number): Promise<KeyMaterial> {
  const pair = (await webcrypto.subtle.generateKey(
    { ...SIGNING, modulusLength: size, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", pair.privateKey));
  const jwk = await webcrypto.subtle.exportKey("jwk", pair.publicKey);
  return {
    size,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    keyObject: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }),
    pkcs8,
    n: jwk.n as string,
    e: jwk.e as string,
  };
}

/**
 * A few RSA key pairs made ahead of time, so that seeding dozens of certificates or a burst of
 * creates does not wait on key generation for each one.
 */
export class KeyPool {
  private readonly ready = new Map<number, KeyMaterial[]>();
  private readonly filling = new Map<number, Promise<void>>();

  /** Benchmarks: a fixed set of keys handed out in turn, instead of a new key each time. */
  private cycle?: { size: number; keys: KeyMaterial[]; next: number };

  constructor(private readonly depth = 4) {}

  /**
   * From now on hand out the same `count` keys of `size` in turn (undefined: back to new keys).
   * For benchmarks that create thousands of certificates and measure the client, not key
   * generation; every certificate is still a new, valid X.509 certificate.
   */
  async recycle(size: number, count: number | undefined): Promise<void> {
    if (count === undefined) {
      this.cycle = undefined;
      return;
    }
    const keys = await Promise.all(Array.from({ length: Math.max(1, count) }, () => generate(size)));
    this.cycle = { size, keys, next: 0 };
  }

  /** Starts filling the pool for `size` in the background. */
  warm(size = 2048): void {
    if (this.filling.has(size)) return;
    const job = (async () => {
      const list = this.ready.get(size) ?? [];
      this.ready.set(size, list);
      while (list.length < this.depth) {
        const batch = await Promise.all(
          Array.from({ length: this.depth - list.length }, () => generate(size)),
        );
        list.push(...batch);
      }
    })()
      .catch(() => {})
      .finally(() => this.filling.delete(size));
    this.filling.set(size, job);
  }

  async take(size: number): Promise<KeyMaterial> {
    const c = this.cycle;
    if (c && c.size === size) return c.keys[c.next++ % c.keys.length] as KeyMaterial;
    const list = this.ready.get(size);
    const key = list?.shift();
    if (size === 2048) this.warm(size);
    return key ?? generate(size);
  }
}

function hexSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // positive INTEGER
  if (b[0] === 0) b[0] = 0x01;
  return b.toString("hex");
}

const KEY_USAGE_FLAGS: Record<string, number> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
  encipherOnly: x509.KeyUsageFlags.encipherOnly,
  decipherOnly: x509.KeyUsageFlags.decipherOnly,
};

export const KNOWN_KEY_USAGES = Object.keys(KEY_USAGE_FLAGS);

export interface SubjectAlternativeNames {
  dns_names?: string[];
  emails?: string[];
  upns?: string[];
  uris?: string[];
  ipAddresses?: string[];
}

export interface IssueProfile {
  subject: string;
  sans: SubjectAlternativeNames;
  ekus: string[];
  keyUsage: string[];
  notBefore: Date;
  notAfter: Date;
}

/**
 * Key Vault accepts distinguished names with lower-case attribute types (`cn=MyCert`, as the
 * service's own recordings show); the X.509 writer wants the usual upper-case short names.
 */
export function normalizeSubject(subject: string): string {
  return subject.replace(/(^|,\s*|\+\s*)([a-zA-Z]+)=/g, (_m, sep: string, attr: string) => {
    const known = ["CN", "O", "OU", "L", "ST", "C", "DC", "E", "SN", "G", "T", "STREET", "UID"];
    const upper = attr.toUpperCase();
    return `${sep}${known.includes(upper) ? upper : attr}=`;
  });
}

function extensions(profile: IssueProfile): x509.Extension[] {
  const out: x509.Extension[] = [];
  let usage = 0;
  for (const u of profile.keyUsage) usage |= KEY_USAGE_FLAGS[u] ?? 0;
  if (usage) out.push(new x509.KeyUsagesExtension(usage, true));
  if (profile.ekus.length > 0) out.push(new x509.ExtendedKeyUsageExtension(profile.ekus, false));
  const names: x509.JsonGeneralName[] = [
    ...(profile.sans.dns_names ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(profile.sans.emails ?? []).map((value) => ({ type: "email" as const, value })),
    ...(profile.sans.upns ?? []).map((value) => ({ type: "upn" as const, value })),
    ...(profile.sans.uris ?? []).map((value) => ({ type: "url" as const, value })),
    ...(profile.sans.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  if (names.length > 0) out.push(new x509.SubjectAlternativeNameExtension(names, false));
  out.push(new x509.BasicConstraintsExtension(false, undefined, false));
  return out;
}

/** Issues a self-signed certificate (issuer `Self`) for `key`; returns its DER. */
export async function issueSelfSigned(key: KeyMaterial, profile: IssueProfile): Promise<Buffer> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: hexSerial(),
    name: normalizeSubject(profile.subject),
    notBefore: profile.notBefore,
    notAfter: profile.notAfter,
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: SIGNING,
    extensions: [...extensions(profile), await x509.SubjectKeyIdentifierExtension.create(key.publicKey)],
  });
  return Buffer.from(cert.rawData);
}

/** A PKCS#10 request for `key`, as the pending operation's `csr` carries it. */
export async function createCsr(key: KeyMaterial, profile: IssueProfile): Promise<Buffer> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: normalizeSubject(profile.subject),
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: SIGNING,
    extensions: extensions(profile),
  });
  return Buffer.from(csr.rawData);
}

/** Validity of a DER certificate, and whether its public key is `key`'s. */
export function inspectCertificate(der: Uint8Array): {
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
} {
  const cert = new x509.X509Certificate(new Uint8Array(der));
  return {
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    spki: Buffer.from(cert.publicKey.rawData),
  };
}

export function spkiOf(key: KeyMaterial): Buffer {
  return createPublicKey(key.keyObject).export({ type: "spki", format: "der" }) as Buffer;
}

export function x5tOf(der: Uint8Array): string {
  return createHash("sha1").update(der).digest("base64url");
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join("\n")}\n-----END ${label}-----\n`;
}

// --- sign / verify over a digest -------------------------------------------------------------

const HASHES = {
  "256": { name: "sha256", length: 32, prefix: "3031300d060960864801650304020105000420" },
  "384": { name: "sha384", length: 48, prefix: "3041300d060960864801650304020205000430" },
  "512": { name: "sha512", length: 64, prefix: "3051300d060960864801650304020305000440" },
} as const;

export const SIGNATURE_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export function isSignatureAlgorithm(alg: unknown): alg is SignatureAlgorithm {
  return typeof alg === "string" && (SIGNATURE_ALGORITHMS as readonly string[]).includes(alg);
}

export function digestLength(alg: SignatureAlgorithm): number {
  return HASHES[alg.slice(2) as keyof typeof HASHES].length;
}

function mgf1(seed: Buffer, length: number, hash: string): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  for (let counter = 0; total < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with a salt as long as the hash, as JWA's PSxxx require. */
function pssEncode(mHash: Buffer, modBits: number, hash: string): Buffer {
  const hLen = mHash.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(h, emLen - hLen - 1, hash);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2), salt length = hash length. */
function pssVerify(mHash: Buffer, em: Buffer, modBits: number, hash: string): boolean {
  const hLen = mHash.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const e = em.length > emLen ? em.subarray(em.length - emLen) : em;
  if (e.length !== emLen || e[emLen - 1] !== 0xbc) return false;
  const maskedDb = e.subarray(0, emLen - hLen - 1);
  const h = e.subarray(emLen - hLen - 1, emLen - 1);
  const mask = mgf1(Buffer.from(h), maskedDb.length, hash);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = (maskedDb[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits));
  const ps = db.length - hLen - 1;
  for (let i = 0; i < ps; i++) if (db[i] !== 0) return false;
  if (db[ps] !== 1) return false;
  const salt = db.subarray(ps + 1);
  const h2 = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return timingSafeEqual(h, h2);
}

/** Signs a precomputed digest, as Key Vault's `sign` operation does. */
export function signDigest(key: KeyMaterial, alg: SignatureAlgorithm, digest: Buffer): Buffer {
  const h = HASHES[alg.slice(2) as keyof typeof HASHES];
  if (alg.startsWith("RS")) {
    return privateEncrypt(
      { key: key.keyObject, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([Buffer.from(h.prefix, "hex"), digest]),
    );
  }
  const em = pssEncode(digest, key.size, h.name);
  const k = Math.ceil(key.size / 8);
  const block = em.length < k ? Buffer.concat([Buffer.alloc(k - em.length), em]) : em;
  return privateEncrypt({ key: key.keyObject, padding: constants.RSA_NO_PADDING }, block);
}

/** Verifies a signature over a precomputed digest (Key Vault's `verify` operation). */
export function verifyDigest(
  key: KeyMaterial,
  alg: SignatureAlgorithm,
  digest: Buffer,
  signature: Buffer,
): boolean {
  const h = HASHES[alg.slice(2) as keyof typeof HASHES];
  const pub = createPublicKey(key.keyObject);
  try {
    if (alg.startsWith("RS")) {
      const decoded = publicDecrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, signature);
      const expected = Buffer.concat([Buffer.from(h.prefix, "hex"), digest]);
      return decoded.length === expected.length && timingSafeEqual(decoded, expected);
    }
    const em = publicDecrypt({ key: pub, padding: constants.RSA_NO_PADDING }, signature);
    return pssVerify(digest, em, key.size, h.name);
  } catch {
    return false;
  }
}

// --- imported keys and certificates ------------------------------------------------------------

/** Key material from a PKCS#8 RSA private key (certificate import); undefined if not RSA. */
export async function keyMaterialFromPkcs8(pkcs8: Buffer): Promise<KeyMaterial | undefined> {
  const keyObject = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  if (keyObject.asymmetricKeyType !== "rsa") return undefined;
  const der = keyObject.export({ type: "pkcs8", format: "der" }) as Buffer;
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, SIGNING, true, ["sign"]);
  const spki = createPublicKey(keyObject).export({ type: "spki", format: "der" }) as Buffer;
  const publicKey = await webcrypto.subtle.importKey("spki", spki, SIGNING, true, ["verify"]);
  const jwk = await webcrypto.subtle.exportKey("jwk", publicKey);
  return {
    size: keyObject.asymmetricKeyDetails?.modulusLength ?? 0,
    privateKey,
    publicKey,
    keyObject,
    pkcs8: der,
    n: jwk.n as string,
    e: jwk.e as string,
  };
}

/** What an X.509 certificate says of itself, in the policy's terms (certificate import). */
export function describeCertificate(der: Uint8Array): {
  subject: string;
  issuer: string;
  sans: SubjectAlternativeNames;
  ekus: string[];
  keyUsage: string[];
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
} {
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const keyUsage = ku
    ? Object.entries(KEY_USAGE_FLAGS)
        .filter(([, f]) => (ku.usages & f) !== 0)
        .map(([n]) => n)
    : [];
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const sans: SubjectAlternativeNames = {};
  for (const n of san?.names.toJSON() ?? []) {
    const key = ({ dns: "dns_names", email: "emails", upn: "upns", url: "uris", ip: "ipAddresses" } as const)[
      n.type as "dns" | "email" | "upn" | "url" | "ip"
    ];
    if (key) sans[key] = [...(sans[key] ?? []), n.value];
  }
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    sans,
    ekus: eku ? eku.usages.map(String) : [],
    keyUsage,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    spki: Buffer.from(cert.publicKey.rawData),
  };
}
