/**
 * The PKCS#12 file Key Vault returns as the secret of a certificate whose policy asks for
 * `application/x-pkcs12`: no password, the certificate in a certBag and (when the key is
 * exportable) the private key, both tagged with the same `localKeyId`, integrity-protected by an
 * HMAC-SHA256 keyed from the empty password (RFC 7292 §4, §5 and appendix B).
 *
 * Bags are stored unencrypted (`keyBag` rather than `pkcs8ShroudedKeyBag`), which RFC 7292 allows
 * and every reader (OpenSSL, .NET, Java) accepts; a password-less PFX protects nothing anyway.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { bmpPassword, pkcs12Kdf } from "./import.js";

// --- a minimal DER writer ---------------------------------------------------------------------

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (b: Uint8Array): Buffer => tlv(0x04, Buffer.from(b));
const explicit0 = (inner: Buffer): Buffer => tlv(0xa0, inner);
const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);

function integer(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0] as number) & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function bmpString(s: string): Buffer {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return tlv(0x1e, b);
}

// --- PKCS#12 ------------------------------------------------------------------------------------

const OID = {
  data: "1.2.840.113549.1.7.1",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  sha256: "2.16.840.1.101.3.4.2.1",
};

function dataContentInfo(content: Buffer): Buffer {
  return seq(oid(OID.data), explicit0(octets(content)));
}

function bagAttributes(localKeyId: Buffer, friendlyName?: string): Buffer {
  const attrs = [seq(oid(OID.localKeyId), set(octets(localKeyId)))];
  if (friendlyName) attrs.unshift(seq(oid(OID.friendlyName), set(bmpString(friendlyName))));
  return set(...attrs);
}

/** The MAC key (RFC 7292 appendix B.2, ID 3) for SHA-256 and the empty password. */
function macKey(salt: Buffer, iterations: number): Buffer {
  const sha256 = { name: "sha256", u: 32, v: 64 };
  return pkcs12Kdf(sha256, bmpPassword(""), salt, iterations, 3, 32);
}

/** Builds a password-less PFX holding `certDer` and, when given, the PKCS#8 private key. */
export function buildPfx(certDer: Uint8Array, pkcs8?: Uint8Array, friendlyName?: string): Buffer {
  const localKeyId = createHash("sha1").update(certDer).digest();
  const certBag = seq(
    oid(OID.certBag),
    explicit0(seq(oid(OID.x509Certificate), explicit0(octets(certDer)))),
    bagAttributes(localKeyId, friendlyName),
  );
  const safes = [dataContentInfo(seq(certBag))];
  if (pkcs8) {
    const keyBag = seq(
      oid(OID.keyBag),
      explicit0(Buffer.from(pkcs8)),
      bagAttributes(localKeyId, friendlyName),
    );
    safes.push(dataContentInfo(seq(keyBag)));
  }
  const authSafe = seq(...safes);
  const salt = randomBytes(16);
  const iterations = 2048;
  const mac = createHmac("sha256", macKey(salt, iterations)).update(authSafe).digest();
  const macData = seq(seq(seq(oid(OID.sha256), nullValue()), octets(mac)), octets(salt), integer(iterations));
  return seq(integer(3), dataContentInfo(authSafe), macData);
}
