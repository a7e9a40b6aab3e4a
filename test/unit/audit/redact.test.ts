import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { buildPfx } from "../../../sandbox/keyvault/pkcs12.js";
import { containsSecret, REDACTED, RedactionCounter, redact } from "../../../shared/audit/index.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";

let cert: TestCert;
beforeAll(async () => {
  cert = await makeCert({ subject: "CN=redaction" });
});

function rsa() {
  return generateKeyPairSync("rsa", { modulusLength: 2048 });
}

const r = (text: string, counter = new RedactionCounter(), entropy = true) => ({
  out: redact(text, { counter, entropy }),
  counter,
});

describe("redact", () => {
  it("removes a PKCS#8 PEM private key and counts it", () => {
    const { out, counter } = r(`key follows: ${cert.keyPem.trim()} and then text`);
    expect(out).toBe(`key follows: ${REDACTED} and then text`);
    expect(counter.byKind.privateKey).toBe(1);
    expect(counter.total).toBe(1);
  });

  it("removes PKCS#1 RSA, SEC1 EC and encrypted PKCS#8 PEM keys", () => {
    const pkcs1 = rsa().privateKey.export({ type: "pkcs1", format: "pem" }) as string;
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "sec1",
      format: "pem",
    }) as string;
    const enc = rsa().privateKey.export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase: "pw",
    }) as string;
    for (const pem of [pkcs1, ec, enc]) {
      const { out, counter } = r(`x ${pem.trim()} y`);
      expect(out).toBe(`x ${REDACTED} y`);
      expect(counter.byKind.privateKey).toBe(1);
    }
  });

  it("removes a whole certificate bundle that carries a key, but leaves a lone certificate", () => {
    const { out, counter } = r(`bundle:\n${cert.pem}`);
    expect(out).toBe(`bundle:\n${REDACTED}\n`);
    expect(counter.byKind.certificateBundle).toBe(1);
    expect(r(cert.certPem, new RedactionCounter(), false).out).toBe(cert.certPem);
  });

  it("removes a private key cut short (no END line)", () => {
    const cut = cert.keyPem.slice(0, 200);
    expect(r(`oops ${cut}`).out).toBe(`oops ${REDACTED}`);
  });

  it("removes base64 PKCS#12 and PKCS#8/PKCS#1 DER blobs", () => {
    const pkcs8Der = rsa().privateKey.export({ type: "pkcs8", format: "der" });
    const pkcs1Der = rsa().privateKey.export({ type: "pkcs1", format: "der" });
    const pfx = buildPfx(cert.der, pkcs8Der);
    const samples: Array<[string, string]> = [
      [pfx.toString("base64"), "pkcs12"],
      [pkcs8Der.toString("base64"), "derKey"],
      [pkcs1Der.toString("base64"), "derKey"],
    ];
    for (const [b64, kind] of samples) {
      const { out, counter } = r(`value=${b64}`, new RedactionCounter(), false);
      expect(out).toBe(`value=${REDACTED}`);
      expect(counter.byKind[kind as "pkcs12"]).toBe(1);
    }
  });

  it("removes JWTs and bearer credentials", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwt = await new SignJWT({ aud: "https://graph.microsoft.com", roles: ["x"] })
      .setProtectedHeader({ alg: "RS256", x5t: cert.x5t })
      .setIssuedAt()
      .sign(privateKey);
    const a = r(`assertion ${jwt} was refused`);
    expect(a.out).toBe(`assertion ${REDACTED} was refused`);
    expect(a.counter.byKind.jwt).toBe(1);
    const b = r("Authorization: Bearer abc.def-ghi_jkl~mno");
    expect(b.out).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(b.counter.byKind.bearer).toBe(1);
  });

  it("removes Entra client secrets and key=value secrets", () => {
    const secret = `Abc8Q~${randomBytes(30).toString("base64url").slice(0, 34)}`;
    const a = r(`new secret ${secret} made`, new RedactionCounter(), false);
    expect(a.out).toBe(`new secret ${REDACTED} made`);
    expect(a.counter.byKind.clientSecret).toBe(1);
    const b = r('client_secret=hunter22&grant_type=client_credentials {"password": "s3cr3t!"}');
    expect(b.out).toBe(`client_secret=${REDACTED}&grant_type=client_credentials {"password": "${REDACTED}"}`);
    expect(b.counter.byKind.keyValueSecret).toBe(2);
  });

  it("removes long random strings from free text, but keeps ids, thumbprints, versions and URLs", () => {
    const random = randomBytes(33).toString("base64");
    const a = r(`token ${random} leaked`);
    expect(a.out).toBe(`token ${REDACTED} leaked`);
    expect(a.counter.byKind.highEntropy).toBe(1);
    const kid = `https://rollover-sandbox-kv.vault.azure.net/keys/app-cert/${randomUUID().replace(/-/g, "")}`;
    const plain =
      `attached ${cert.sha1Hex.toUpperCase()} (keyId ${randomUUID()}) from ${kid} to ` +
      `CertificateNewVersionCreated app 00000003-0000-0000-c000-000000000000 x5t ${cert.x5t}; ` +
      "RetirePreviousKey GraceWindowOpen, dcr-0123456789abcdef0123456789abcdef";
    const b = r(plain);
    expect(b.out).toBe(plain);
    expect(b.counter.total).toBe(0);
  });

  it("adds to the process-wide counter by default", async () => {
    const { redactionCounter } = await import("../../../shared/audit/index.js");
    const before = redactionCounter.total;
    redact(cert.keyPem);
    expect(redactionCounter.total).toBe(before + 1);
    expect(containsSecret(cert.keyPem)).toBe(true);
    expect(redactionCounter.total).toBe(before + 1);
  });
});
