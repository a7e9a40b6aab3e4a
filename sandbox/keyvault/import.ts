/**
 * Reads what `POST /certificates/{name}/import` receives: a PKCS#12 file (base64) or a PEM text
 * holding a PKCS#8 private key and X.509 certificates, as the ImportCertificate operation
 * describes it (https://learn.microsoft.com/rest/api/keyvault/certificates/import-certificate:
 * "If the certificate is in PEM format the PEM file must contain the key as well as x509
 * certificates. Key Vault will only accept a key in PKCS#8 format.").
 *
 * PKCS#12 (RFC 7292): unencrypted and password-encrypted safes (PBES2 with PBKDF2 and AES-CBC or
 * 3DES, as OpenSSL 3 and .NET write them, and the legacy pbeWithSHAAnd3-KeyTripleDES-CBC), plain
 * and shrouded key bags, and the integrity MAC, which must verify with `pwd`.
 */
import {
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  pbkdf2Sync,
  timingSafeEqual,
} from "node:crypto";

export interface ImportedMaterial {
  /** PKCS#8 DER of the private key. */
  pkcs8: Buffer;
  /** DER certificates in the order they came. */
  certificates: Buffer[];
}

/** Why an import value was refused; the route answers 400 BadParameter with this message. */
export class ImportError extends Error {
  override name = "ImportError";
}

// Wording of the service's answers to unreadable content (as users report them, e.g.
// github.com/MicrosoftDocs/azure-docs/issues/63268, damienbod/AspNetCoreCertificates#38).
export const PKCS12_UNREADABLE =
  "The specified PKCS#12 X.509 certificate content can not be read. Please check if certificate is in valid PKCS#12 format.";
export const PEM_UNREADABLE =
  "The specified PEM X.509 certificate content is in an unexpected format. Please check if certificate is in valid PEM format.";

// --- a minimal DER/BER reader -----------------------------------------------------------------

interface Node {
  tag: number;
  /** Content bytes (for constructed OCTET STRINGs: the concatenated parts). */
  value: Buffer;
  children: Node[];
}

function readNode(buf: Buffer, pos: number): { node: Node; end: number } {
  if (pos + 2 > buf.length) throw new ImportError("truncated");
  const tag = buf[pos] as number;
  let p = pos + 1;
  let first = buf[p++] as number;
  let len: number | undefined;
  if (first < 0x80) len = first;
  else if (first === 0x80)
    len = undefined; // indefinite (BER)
  else {
    first &= 0x7f;
    if (first > 4) throw new ImportError("length too long");
    len = 0;
    for (let i = 0; i < first; i++) len = len * 256 + (buf[p++] as number);
  }
  const constructed = (tag & 0x20) !== 0;
  const children: Node[] = [];
  let end: number;
  if (len === undefined) {
    if (!constructed) throw new ImportError("indefinite primitive");
    let q = p;
    while (!(buf[q] === 0 && buf[q + 1] === 0)) {
      const r = readNode(buf, q);
      children.push(r.node);
      q = r.end;
      if (q >= buf.length) throw new ImportError("truncated");
    }
    end = q + 2;
  } else {
    end = p + len;
    if (end > buf.length) throw new ImportError("truncated");
    if (constructed) {
      let q = p;
      while (q < end) {
        const r = readNode(buf, q);
        children.push(r.node);
        q = r.end;
      }
    }
  }
  let value = buf.subarray(p, len === undefined ? end - 2 : end);
  // A constructed OCTET STRING (BER, as some Windows exports write it): its parts, joined.
  if (tag === 0x24) value = Buffer.concat(children.map((c) => c.value));
  return { node: { tag, value, children }, end };
}

function parse(buf: Buffer): Node {
  return readNode(buf, 0).node;
}

function child(n: Node | undefined, i: number): Node {
  const c = n?.children[i];
  if (!c) throw new ImportError("missing element");
  return c;
}

function oidOf(n: Node): string {
  if (n.tag !== 0x06) throw new ImportError("expected an OID");
  const b = n.value;
  const first = b[0] as number;
  const parts = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + ((b[i] as number) & 0x7f);
    if (((b[i] as number) & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

function intOf(n: Node): number {
  if (n.tag !== 0x02) throw new ImportError("expected an INTEGER");
  let v = 0;
  for (const b of n.value) v = v * 256 + b;
  return v;
}

function octetsOf(n: Node): Buffer {
  if (n.tag !== 0x04 && n.tag !== 0x24) throw new ImportError("expected an OCTET STRING");
  return n.value;
}

/** The DER bytes of a node (re-read from its parent's buffer is not needed: rebuild it). */
function derOf(n: Node): Buffer {
  const content = n.children.length > 0 && n.tag !== 0x24 ? Buffer.concat(n.children.map(derOf)) : n.value;
  const tag = n.tag === 0x24 ? 0x04 : n.tag;
  const len = content.length;
  let lenBytes: Buffer;
  if (len < 0x80) lenBytes = Buffer.from([len]);
  else {
    const bytes: number[] = [];
    for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    lenBytes = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), lenBytes, content]);
}

// --- PKCS#12 ------------------------------------------------------------------------------------

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  pbeSha1Des3: "1.2.840.113549.1.12.1.3",
};

export const HASH_BY_OID: Record<string, { name: string; u: number; v: number }> = {
  "1.3.14.3.2.26": { name: "sha1", u: 20, v: 64 },
  "2.16.840.1.101.3.4.2.1": { name: "sha256", u: 32, v: 64 },
  "2.16.840.1.101.3.4.2.2": { name: "sha384", u: 48, v: 128 },
  "2.16.840.1.101.3.4.2.3": { name: "sha512", u: 64, v: 128 },
};

const PRF_BY_OID: Record<string, string> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};

const CIPHER_BY_OID: Record<string, { name: string; keyLength: number }> = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyLength: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyLength: 24 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyLength: 32 },
  "1.2.840.113549.3.7": { name: "des-ede3-cbc", keyLength: 24 },
};

/** The password as PKCS#12 wants it: a BMPString with its terminating NUL (RFC 7292 B.1). */
export function bmpPassword(password: string): Buffer {
  const b = Buffer.alloc((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) b.writeUInt16BE(password.charCodeAt(i), i * 2);
  return b;
}

/** PKCS#12 key derivation (RFC 7292 appendix B.2). `id`: 1 key, 2 IV, 3 MAC key. */
export function pkcs12Kdf(
  hash: { name: string; u: number; v: number },
  password: Buffer,
  salt: Buffer,
  iterations: number,
  id: number,
  n: number,
): Buffer {
  const { u, v } = hash;
  const fill = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length] as number;
    return out;
  };
  const d = Buffer.alloc(v, id);
  const i = Buffer.concat([fill(salt), fill(password)]);
  const out: Buffer[] = [];
  for (let c = 0; c < Math.ceil(n / u); c++) {
    let a = createHash(hash.name).update(d).update(i).digest();
    for (let r = 1; r < iterations; r++) a = createHash(hash.name).update(a).digest();
    out.push(a);
    // I_j = (I_j + B + 1) mod 2^(v·8), with B = A repeated to v bytes.
    const b = Buffer.alloc(v);
    for (let k = 0; k < v; k++) b[k] = a[k % u] as number;
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (i[j + k] as number) + (b[k] as number) + carry;
        i[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

function decrypt(algorithm: Node, data: Buffer, password: string): Buffer {
  const oid = oidOf(child(algorithm, 0));
  const params = child(algorithm, 1);
  if (oid === OID.pbes2) {
    const kdf = child(params, 0);
    if (oidOf(child(kdf, 0)) !== OID.pbkdf2) throw new ImportError("unsupported key derivation");
    const kdfParams = child(kdf, 1);
    const salt = octetsOf(child(kdfParams, 0));
    const iterations = intOf(child(kdfParams, 1));
    let prf = "sha1";
    for (const extra of kdfParams.children.slice(2))
      if (extra.tag === 0x30) prf = PRF_BY_OID[oidOf(child(extra, 0))] ?? "unsupported";
    const scheme = child(params, 1);
    const cipher = CIPHER_BY_OID[oidOf(child(scheme, 0))];
    if (!cipher || prf === "unsupported") throw new ImportError("unsupported cipher");
    const key = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, cipher.keyLength, prf);
    const d = createDecipheriv(cipher.name, key, octetsOf(child(scheme, 1)));
    return Buffer.concat([d.update(data), d.final()]);
  }
  if (oid === OID.pbeSha1Des3) {
    const salt = octetsOf(child(params, 0));
    const iterations = intOf(child(params, 1));
    const sha1 = HASH_BY_OID["1.3.14.3.2.26"] as { name: string; u: number; v: number };
    const pwd = bmpPassword(password);
    const key = pkcs12Kdf(sha1, pwd, salt, iterations, 1, 24);
    const iv = pkcs12Kdf(sha1, pwd, salt, iterations, 2, 8);
    const d = createDecipheriv("des-ede3-cbc", key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  }
  throw new ImportError("unsupported encryption");
}

function verifyMac(pfx: Node, authSafe: Buffer, password: string): void {
  const macData = pfx.children[2];
  if (!macData) return;
  const digestInfo = child(macData, 0);
  const hash = HASH_BY_OID[oidOf(child(child(digestInfo, 0), 0))];
  if (!hash) throw new ImportError("unsupported MAC");
  const expected = octetsOf(child(digestInfo, 1));
  const salt = octetsOf(child(macData, 1));
  const iterations = macData.children[2] ? intOf(macData.children[2]) : 1;
  // An empty password is written either as a lone NUL or as no bytes at all (OpenSSL tries both).
  const candidates = password === "" ? [bmpPassword(""), Buffer.alloc(0)] : [bmpPassword(password)];
  for (const pwd of candidates) {
    const key = pkcs12Kdf(hash, pwd, salt, iterations, 3, hash.u);
    const mac = createHmac(hash.name, key).update(authSafe).digest();
    if (mac.length === expected.length && timingSafeEqual(mac, expected)) return;
  }
  throw new ImportError("MAC verification failed: wrong password");
}

function pkcs8FromShrouded(bag: Node, password: string): Buffer {
  const key = createPrivateKey({ key: derOf(bag), format: "der", type: "pkcs8", passphrase: password });
  return key.export({ type: "pkcs8", format: "der" }) as Buffer;
}

/** A PKCS#12 file's private key and certificates. */
export function readPkcs12(der: Buffer, password: string): ImportedMaterial {
  try {
    const pfx = parse(der);
    if (intOf(child(pfx, 0)) !== 3) throw new ImportError("not a version 3 PFX");
    const authSafeInfo = child(pfx, 1);
    if (oidOf(child(authSafeInfo, 0)) !== OID.data) throw new ImportError("public-key integrity");
    const authSafe = octetsOf(child(child(authSafeInfo, 1), 0));
    verifyMac(pfx, authSafe, password);
    const keys: Buffer[] = [];
    const certificates: Buffer[] = [];
    for (const info of parse(authSafe).children) {
      const type = oidOf(child(info, 0));
      let safeContents: Buffer;
      if (type === OID.data) safeContents = octetsOf(child(child(info, 1), 0));
      else if (type === OID.encryptedData) {
        const eci = child(child(child(info, 1), 0), 1);
        const content = child(eci, 2); // [0] IMPLICIT OCTET STRING, primitive or constructed
        const bytes =
          content.tag === 0xa0 ? Buffer.concat(content.children.map((c) => c.value)) : content.value;
        safeContents = decrypt(child(eci, 1), bytes, password);
      } else throw new ImportError("unsupported safe");
      for (const bag of parse(safeContents).children) {
        const bagId = oidOf(child(bag, 0));
        const value = child(child(bag, 1), 0);
        if (bagId === OID.keyBag) keys.push(derOf(value));
        else if (bagId === OID.shroudedKeyBag) keys.push(pkcs8FromShrouded(value, password));
        else if (bagId === OID.certBag && oidOf(child(value, 0)) === OID.x509Certificate)
          certificates.push(octetsOf(child(child(value, 1), 0)));
      }
    }
    if (keys.length !== 1 || certificates.length === 0)
      throw new ImportError("needs one key and a certificate");
    return { pkcs8: keys[0] as Buffer, certificates };
  } catch {
    // Unreadable, wrong password, unsupported encryption: the service says only that it could not
    // read the content.
    throw new ImportError(PKCS12_UNREADABLE);
  }
}

/** A PEM text's PKCS#8 private key (plain or encrypted with `password`) and certificates. */
export function readPem(text: string, password: string): ImportedMaterial {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)].map((m) => ({
    label: m[1] as string,
    der: Buffer.from((m[2] as string).replace(/\s+/g, ""), "base64"),
  }));
  const keys = blocks.filter((b) => b.label.endsWith("PRIVATE KEY"));
  const certificates = blocks.filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
  if (keys.length === 0)
    throw new ImportError(
      "The specified PEM X.509 certificate content does not contain a private key. The PEM file must contain the key as well as x509 certificates.",
    );
  const key = keys[0] as { label: string; der: Buffer };
  if (keys.length > 1 || (key.label !== "PRIVATE KEY" && key.label !== "ENCRYPTED PRIVATE KEY"))
    throw new ImportError(
      "The specified PEM X.509 certificate content has a private key that is not in PKCS#8 format: Key Vault only accepts a PKCS#8 key (BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY).",
    );
  if (certificates.length === 0) throw new ImportError(PEM_UNREADABLE);
  try {
    const k = createPrivateKey({
      key: key.der,
      format: "der",
      type: "pkcs8",
      ...(key.label === "ENCRYPTED PRIVATE KEY" ? { passphrase: password } : {}),
    });
    return { pkcs8: k.export({ type: "pkcs8", format: "der" }) as Buffer, certificates };
  } catch {
    throw new ImportError(PEM_UNREADABLE);
  }
}
