/**
 * The redaction guard. Audit records and log lines must never carry key material, secret text or
 * tokens. `redact()` replaces anything that looks like one with "[redacted]" and counts it:
 *
 *   privateKey       a PEM private key block (PKCS#1, PKCS#8, EC, encrypted), even cut short
 *   certificateBundle PEM text holding a certificate *and* a private key: the whole bundle goes
 *   pkcs12 / derKey  base64 DER: a PFX (version 3) or a PKCS#1/PKCS#8 private key
 *   jwt              a JSON Web Token (three base64url parts, header starting `eyJ`)
 *   bearer           the credential after `Bearer ` / `Basic `
 *   clientSecret     the shape of Microsoft Entra client secrets (`xxx8Q~…`, 40 characters)
 *   keyValueSecret   the value after `password=`, `client_secret:`, `"secret": …` and the like
 *   highEntropy      (free text only) a long random-looking string: ≥ 32 characters of mixed
 *                    case and digits with more than 4.25 bits of entropy a character; hex ids,
 *                    GUIDs, thumbprints and Key Vault versions stay below that.
 */

export const REDACTED = "[redacted]";

export type SecretKind =
  | "privateKey"
  | "certificateBundle"
  | "pkcs12"
  | "derKey"
  | "jwt"
  | "bearer"
  | "clientSecret"
  | "keyValueSecret"
  | "highEntropy";

/** Counts replacements by kind (exposed to tests and metrics). */
export class RedactionCounter {
  readonly byKind: Record<SecretKind, number> = {
    privateKey: 0,
    certificateBundle: 0,
    pkcs12: 0,
    derKey: 0,
    jwt: 0,
    bearer: 0,
    clientSecret: 0,
    keyValueSecret: 0,
    highEntropy: 0,
  };
  total = 0;
  add(kind: SecretKind, n = 1): void {
    this.byKind[kind] += n;
    this.total += n;
  }
  reset(): void {
    for (const k of Object.keys(this.byKind) as SecretKind[]) this.byKind[k] = 0;
    this.total = 0;
  }
}

/** Process-wide counter used when no other is given (the logger's and the writer's default). */
export const redactionCounter = new RedactionCounter();

export interface RedactOptions {
  /** Also catch long high-entropy strings (free text such as `Message`). Default true. */
  entropy?: boolean;
  counter?: RedactionCounter;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(?:-----END \1-----|$)/g;
const PEM_BEGIN_PRIVATE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const ENTRA_SECRET = /(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/g;
const KEY_VALUE =
  /\b((?:client[_-]?secret|password|passwd|pwd|secret|api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|client[_-]?assertion|sas|sig|accountkey)\s*["']?\s*[:=]\s*["']?)([^\s"',;&]{4,})/gi;
const BASE64_RUN = /[A-Za-z0-9+/]{60,}={0,2}/g;
const TOKENISH = /[A-Za-z0-9_~+/=-]{32,}/g;

/** True when `der` starts like a private key or a PFX: SEQUENCE { INTEGER 0|1|3, … }. */
function looksLikeKeyDer(der: Buffer): SecretKind | undefined {
  if (der.length < 16 || der[0] !== 0x30) return undefined;
  let i = 1;
  const len = der[i++]!;
  if (len & 0x80) i += len & 0x7f;
  // PKCS#8 EncryptedPrivateKeyInfo: SEQUENCE { SEQUENCE { OID pbes2/pbeWith… } … }
  if (der[i] === 0x30 && der[i + 2] === 0x06 && der[i + 4] === 0x2a && der[i + 5] === 0x86) {
    const oid = der.subarray(i + 4, i + 4 + der[i + 3]!).toString("hex");
    if (oid.startsWith("2a864886f70d01050d") || oid.startsWith("2a864886f70d010c")) return "derKey";
  }
  if (der[i] !== 0x02 || der[i + 1] !== 0x01) return undefined;
  const version = der[i + 2];
  const next = der[i + 3];
  if (version === 3 && next === 0x30) return "pkcs12";
  // PKCS#8 PrivateKeyInfo: version 0 then AlgorithmIdentifier (SEQUENCE)
  if ((version === 0 || version === 1) && next === 0x30) return "derKey";
  // PKCS#1 RSAPrivateKey: version 0 then modulus (INTEGER); SEC1 EC key: version 1 then OCTET STRING
  if (version === 0 && next === 0x02) return "derKey";
  if (version === 1 && next === 0x04) return "derKey";
  return undefined;
}

function entropyBits(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

function looksRandom(s: string): boolean {
  if (s.length < 32) return false;
  if (!/[A-Z]/.test(s) || !/[a-z]/.test(s) || !/[0-9]/.test(s)) return false;
  return entropyBits(s) > 4.25;
}

/** Replaces key material, tokens and secret text in `text` with "[redacted]". */
export function redact(text: string, options: RedactOptions = {}): string {
  const counter = options.counter ?? redactionCounter;
  if (!text) return text;
  let out = text;

  // PEM: a bundle with a certificate and a key goes whole; a private key block alone goes.
  const pems = [...out.matchAll(PEM_BLOCK)];
  const hasKey = pems.some((m) => PEM_BEGIN_PRIVATE.test(m[0]));
  const hasCert = pems.some((m) => /CERTIFICATE/.test(m[1] ?? ""));
  if (hasKey && hasCert) {
    const start = pems[0]!.index;
    const last = pems.at(-1)!;
    out = `${out.slice(0, start)}${REDACTED}${out.slice(last.index + last[0].length)}`;
    counter.add("certificateBundle");
  } else if (hasKey) {
    out = out.replace(PEM_BLOCK, (block, label: string) => {
      if (!/PRIVATE KEY/.test(label)) return block;
      counter.add("privateKey");
      return REDACTED;
    });
  }
  // A private key header whose block did not parse (no END, mangled) still goes to the end.
  const stray = out.search(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY/);
  if (stray >= 0) {
    out = `${out.slice(0, stray)}${REDACTED}`;
    counter.add("privateKey");
  }

  out = out.replace(JWT, () => {
    counter.add("jwt");
    return REDACTED;
  });
  out = out.replace(BEARER, (_m, scheme: string) => {
    counter.add("bearer");
    return `${scheme} ${REDACTED}`;
  });
  out = out.replace(KEY_VALUE, (_m, key: string, value: string) => {
    if (value === REDACTED) return `${key}${value}`;
    counter.add("keyValueSecret");
    return `${key}${REDACTED}`;
  });
  out = out.replace(ENTRA_SECRET, () => {
    counter.add("clientSecret");
    return REDACTED;
  });
  out = out.replace(BASE64_RUN, (run) => {
    let der: Buffer | undefined;
    try {
      der = Buffer.from(run.slice(0, 64 - (64 % 4)), "base64");
    } catch {
      der = undefined;
    }
    const kind = der ? looksLikeKeyDer(der) : undefined;
    if (kind) {
      counter.add(kind);
      return REDACTED;
    }
    return run;
  });
  if (options.entropy ?? true) {
    out = out.replace(TOKENISH, (token) => {
      if (!looksRandom(token)) return token;
      counter.add("highEntropy");
      return REDACTED;
    });
  }
  return out;
}

/** True when `text` holds something `redact` would replace (counts nothing). */
export function containsSecret(text: string, options: Omit<RedactOptions, "counter"> = {}): boolean {
  return redact(text, { ...options, counter: new RedactionCounter() }) !== text;
}
