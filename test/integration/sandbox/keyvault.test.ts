/**
 * The sandbox's Key Vault, driven by the real Azure SDK clients over HTTPS, configured the way a
 * user configures them for a custom endpoint (`disableChallengeResourceVerification`).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  X509Certificate,
  verify as cryptoVerify,
  constants,
  webcrypto,
} from "node:crypto";
import { once } from "node:events";
import { connect, createSecureContext, createServer } from "node:tls";
import "reflect-metadata";
import { CertificateClient, type CertificatePolicy } from "@azure/keyvault-certificates";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import * as x509 from "@peculiar/x509";
import { beforeAll, describe, expect, it } from "vitest";
import { useSandbox } from "../../helpers/sandbox.js";
import { raw, sandboxCredential, vaultToken } from "./kv-helpers.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const sb = useSandbox();
const opts = { disableChallengeResourceVerification: true };

function certClient(serviceVersion?: "7.5" | "7.6" | "2025-07-01") {
  return new CertificateClient(sb().urls.vaultUrl, sandboxCredential(sb), {
    ...opts,
    ...(serviceVersion ? { serviceVersion } : {}),
  });
}

async function createViaSdk(name: string, policy: CertificatePolicy, tags?: Record<string, string>) {
  const poller = await certClient().beginCreateCertificate(name, policy, {
    intervalInMs: 50,
    ...(tags ? { tags } : {}),
  });
  return poller.pollUntilDone();
}

/** Serves TLS with `pfx` and returns the SHA-1 of the certificate a client sees: OpenSSL read the PFX. */
async function servedThumbprint(pfx: Buffer): Promise<string> {
  const server = createServer({ pfx }, (s) => s.end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  try {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    await once(socket, "secureConnect");
    const peer = socket.getPeerCertificate(true);
    socket.destroy();
    return createHash("sha1").update(peer.raw).digest("base64url");
  } finally {
    server.close();
  }
}

describe("Key Vault: authentication challenge and request gate", () => {
  it("answers a token-less request with 401 and the Bearer challenge", async () => {
    const { vaultUrl, authorityHost, tenantId } = sb().urls;
    const res = await raw(`${vaultUrl}certificates/none/?api-version=7.6`);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toBe(
      `Bearer authorization="${authorityHost}/${tenantId}", resource="https://vault.azure.net"`,
    );
    expect(res.json().error).toEqual({
      code: "Unauthorized",
      message: "AKV10000: Request is missing a Bearer or PoP token.",
    });
    expect(res.headers["x-ms-keyvault-service-version"]).toBeTruthy();
    expect(res.headers["x-ms-request-id"]).toBeTruthy();
    expect(res.headers["x-ms-keyvault-region"]).toBeTruthy();
  });

  it("lets the SDK do the challenge first, then send the token for the tenant it names", async () => {
    const cred = sandboxCredential(sb);
    const client = new CertificateClient(sb().urls.vaultUrl, cred, opts);
    const names: string[] = [];
    for await (const p of client.listPropertiesOfCertificates()) names.push(p.name as string);
    expect(cred.calls).toHaveLength(1);
    expect(cred.calls[0]).toEqual({
      scopes: ["https://vault.azure.net/.default"],
      tenantId: sb().urls.tenantId,
    });
  });

  it("rejects a forged token, a token for another audience and one from another tenant", async () => {
    const { vaultUrl } = sb().urls;
    const good = await vaultToken(sb);
    const [h, p] = good.token.split(".") as [string, string];
    const forged = `${h}.${p}.${Buffer.from("not the signature").toString("base64url")}`;
    const forgedRes = await raw(`${vaultUrl}certificates?api-version=7.6`, {
      headers: { Authorization: `Bearer ${forged}` },
    });
    expect(forgedRes.status).toBe(401);
    expect(forgedRes.json().error?.code).toBe("Unauthorized");
    expect(forgedRes.headers["www-authenticate"]).toContain('resource="https://vault.azure.net"');

    const arm = await vaultToken(sb, undefined, { aud: "https://management.azure.com/" });
    const armRes = await raw(`${vaultUrl}certificates?api-version=7.6`, {
      headers: { Authorization: `Bearer ${arm.token}` },
    });
    expect(armRes.status).toBe(401);
    expect(armRes.json().error?.message).toBe(
      "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/.",
    );

    const other = await vaultToken(sb, undefined, {
      tid: "11111111-2222-4333-8444-555555555555",
      iss: "https://sts.windows.net/11111111-2222-4333-8444-555555555555/",
    });
    const otherRes = await raw(`${vaultUrl}certificates?api-version=7.6`, {
      headers: { Authorization: `Bearer ${other.token}` },
    });
    expect(otherRes.status).toBe(401);
    expect(otherRes.json().error?.message).toMatch(/^AKV10032: Invalid issuer/);
  });

  it("rejects an unknown api-version and accepts a percent-encoded api-version key", async () => {
    const { vaultUrl } = sb().urls;
    const { token } = await vaultToken(sb);
    const auth = { Authorization: `Bearer ${token}` };
    const bad = await raw(`${vaultUrl}certificates?api-version=7.9`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toEqual({
      code: "BadParameter",
      message:
        "The specified version (7.9) is not recognized. Consider using the latest supported version (2026-04-01).",
    });
    for (const v of ["7.5", "7.6", "2025-07-01"]) {
      const res = await raw(`${vaultUrl}certificates?api%2Dversion=${v}`, { headers: auth });
      expect(res.status, v).toBe(200);
      expect(res.json()).toHaveProperty("value");
    }
  });

  it("answers malformed JSON with 400 BadParameter", async () => {
    const { token } = await vaultToken(sb);
    const res = await raw(`${sb().urls.vaultUrl}certificates/broken/create?api-version=2025-07-01`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: '{"policy": {',
    });
    expect(res.status).toBe(400);
    expect(res.json().error?.code).toBe("BadParameter");
  });

  it("throttles with 429 Throttled and Retry-After past the per-vault limit", async () => {
    const vault = sb().ctx.vault as unknown as { throttle: { limit: number; windowMs: number } };
    const saved = { ...vault.throttle };
    const { token } = await vaultToken(sb);
    try {
      vault.throttle = { limit: 2, windowMs: 60_000 };
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof raw>> | undefined;
      for (let i = 0; i < 4; i++) {
        last = await raw(`${sb().urls.vaultUrl}certificates?api-version=7.6`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        statuses.push(last.status);
      }
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
      expect(last?.json().error?.code).toBe("Throttled");
      expect(Number(last?.headers["retry-after"])).toBeGreaterThan(0);
    } finally {
      vault.throttle = saved;
    }
  });

  it("returns the service's not-found codes for an unknown certificate, key and secret", async () => {
    const cred = sandboxCredential(sb);
    const { vaultUrl } = sb().urls;
    await expect(certClient().getCertificate("nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "CertificateNotFound",
    });
    await expect(new KeyClient(vaultUrl, cred, opts).getKey("nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "KeyNotFound",
    });
    await expect(new SecretClient(vaultUrl, cred, opts).getSecret("nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "SecretNotFound",
    });
  });
});

describe("Key Vault: certificates through @azure/keyvault-certificates", () => {
  it("creates a Self certificate: 202 + Location, inProgress, then completed with a real X.509", async () => {
    const client = certClient();
    const poller = await client.beginCreateCertificate(
      "app-one",
      {
        issuerName: "Self",
        subject: "CN=app-one.rollover.test",
        validityInMonths: 6,
        keyType: "RSA",
        keySize: 3072,
        enhancedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
        keyUsage: ["digitalSignature"],
        subjectAlternativeNames: { dnsNames: ["app-one.rollover.test"] },
      },
      { intervalInMs: 50, tags: { "rollover-target": "00000000-0000-4000-8000-000000000001" } },
    );
    expect(poller.isDone()).toBe(false);
    const pending = await client.getCertificateOperation("app-one");
    expect(pending.getOperationState().certificateOperation?.status).toBe("inProgress");
    const cert = await poller.pollUntilDone();
    const completed = await client.getCertificateOperation("app-one");
    expect(completed.getOperationState().certificateOperation?.status).toBe("completed");
    expect(completed.getOperationState().certificateOperation?.target).toBe(
      `${sb().urls.baseUrl}/certificates/app-one`,
    );

    const der = Buffer.from(cert.cer as Uint8Array);
    const x = new X509Certificate(der);
    expect(x.subject).toBe("CN=app-one.rollover.test");
    expect(x.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(x.subjectAltName).toBe("DNS:app-one.rollover.test");
    expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(x.verify(x.publicKey)).toBe(true);
    const months =
      (new Date(x.validTo).getTime() - new Date(x.validFrom).getTime()) / (30.44 * 24 * 3600_000);
    expect(Math.round(months)).toBe(6);

    expect(Buffer.from(cert.properties.x509Thumbprint as Uint8Array).toString("base64url")).toBe(
      createHash("sha1").update(der).digest("base64url"),
    );
    expect(cert.keyId).toBe(`${sb().urls.baseUrl}/keys/app-one/${cert.properties.version}`);
    expect(cert.secretId).toBe(`${sb().urls.baseUrl}/secrets/app-one/${cert.properties.version}`);
    expect(cert.properties.tags).toEqual({ "rollover-target": "00000000-0000-4000-8000-000000000001" });
    expect(cert.properties.recoveryLevel).toBe("Recoverable+Purgeable");
    expect(cert.properties.notBefore?.getTime()).toBe(new Date(x.validFrom).getTime());
    expect(cert.properties.expiresOn?.getTime()).toBe(new Date(x.validTo).getTime());
    expect(cert.policy?.validityInMonths).toBe(6);
    expect(cert.policy?.lifetimeActions).toEqual([{ action: "AutoRenew", lifetimePercentage: 80 }]);

    // The store sees the same version.
    const info = sb().ctx.vault.latest("app-one");
    expect(info?.version).toBe(cert.properties.version);
    expect(info?.thumbprintHex).toBe(createHash("sha1").update(der).digest("hex").toUpperCase());
  });

  it("answers the raw create with 202, Location and Retry-After, and fills the service's policy defaults", async () => {
    const { token } = await vaultToken(sb);
    const res = await raw(`${sb().urls.vaultUrl}certificates/raw-one/create?api-version=7.6`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        policy: {
          key_props: {},
          secret_props: {},
          x509_props: { subject: "cn=raw", sans: {} },
          issuer: { name: "Self" },
        },
      }),
    });
    expect(res.status).toBe(202);
    expect(res.headers.location).toMatch(
      new RegExp(
        `^${sb().urls.baseUrl}/certificates/raw-one/pending\\?api-version=7\\.6&request_id=[0-9a-f]{32}$`,
      ),
    );
    expect(res.headers["retry-after"]).toBe("10");
    const op = res.json();
    expect(op).toMatchObject({
      id: `${sb().urls.baseUrl}/certificates/raw-one/pending`,
      issuer: { name: "Self" },
      cancellation_requested: false,
      status: "inProgress",
    });
    expect(typeof op.csr).toBe("string");
    const policy = await certClient().getCertificatePolicy("raw-one");
    expect(policy).toMatchObject({
      exportable: true,
      keyType: "RSA",
      keySize: 2048,
      reuseKey: false,
      contentType: "application/x-pkcs12",
      validityInMonths: 12,
      enhancedKeyUsage: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
      keyUsage: ["digitalSignature", "keyEncipherment"],
      issuerName: "Self",
    });
  });

  it("gets latest (with and without the trailing slash) and a given version; pages versions with nextLink", async () => {
    const name = "paged";
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await createViaSdk(name, { issuerName: "Self", subject: `CN=paged-${i}` });
      made.push(c.properties.version as string);
    }
    const client = certClient();
    const latest = await client.getCertificate(name);
    expect(latest.properties.version).toBe(made[2]);
    const first = await client.getCertificateVersion(name, made[0] as string);
    expect(new X509Certificate(Buffer.from(first.cer as Uint8Array)).subject).toBe("CN=paged-0");

    const { token } = await vaultToken(sb);
    const noSlash = await raw(`${sb().urls.vaultUrl}certificates/${name}?api-version=2025-07-01`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(noSlash.status).toBe(200);
    expect(noSlash.json().id).toBe(`${sb().urls.baseUrl}/certificates/${name}/${made[2]}`);

    const pages: string[][] = [];
    const links: Array<string | undefined> = [];
    const iter = client
      .listPropertiesOfCertificateVersions(name, { maxresults: 2 } as Record<string, unknown>)
      .byPage();
    for await (const page of iter) {
      pages.push(page.map((p) => p.version as string));
      links.push((page as unknown as { continuationToken?: string }).continuationToken);
    }
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    expect(pages.flat().sort()).toEqual([...made].sort());

    const page1 = await raw(
      `${sb().urls.vaultUrl}certificates/${name}/versions?api-version=7.6&maxresults=2`,
      {
        headers: { Authorization: `Bearer ${token}` },
      },
    );
    const nextLink = page1.json().nextLink as string;
    expect(nextLink.startsWith(`${sb().urls.baseUrl}/certificates/${name}/versions?`)).toBe(true);
    const item = (page1.json().value as Array<Record<string, unknown>>)[0];
    expect(Object.keys(item ?? {}).sort()).toEqual(["attributes", "id", "x5t"]);
  });

  it("reads and updates the policy's lifetime actions", async () => {
    await createViaSdk("policy-cert", { issuerName: "Self", subject: "CN=policy" });
    const client = certClient();
    // (The SDK 4.10 resolves updateCertificatePolicy without the policy the service returned,
    // so the update is checked by reading the policy back.)
    await client.updateCertificatePolicy("policy-cert", {
      lifetimeActions: [{ action: "AutoRenew", daysBeforeExpiry: 30 }],
    } as CertificatePolicy);
    const read = await client.getCertificatePolicy("policy-cert");
    expect(read.lifetimeActions).toEqual([{ action: "AutoRenew", daysBeforeExpiry: 30 }]);
    expect(read.subject).toBe("CN=policy");
    await expect(
      client.updateCertificatePolicy("policy-cert", {
        lifetimeActions: [{ action: "AutoRenew", lifetimePercentage: 100 }],
      } as CertificatePolicy),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  it("updates tags and enabled, and lists certificates with their tags", async () => {
    await createViaSdk("tagged", { issuerName: "Self", subject: "CN=tagged" });
    const client = certClient();
    const props = await client.updateCertificateProperties("tagged", "", {
      tags: { "rollover-target": "abc", "rollover-mode": "self" },
    });
    expect(props.properties.tags).toEqual({ "rollover-target": "abc", "rollover-mode": "self" });
    // The update answers the bundle without policy or pending (UpdateCertificate-example.json).
    const { token } = await vaultToken(sb);
    const patched = await raw(`${sb().urls.vaultUrl}certificates/tagged/?api-version=7.6`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ tags: { "rollover-target": "abc", "rollover-mode": "self" } }),
    });
    expect(patched.status).toBe(200);
    expect(Object.keys(patched.json()).sort()).toEqual([
      "attributes",
      "cer",
      "id",
      "kid",
      "sid",
      "tags",
      "x5t",
    ]);
    const again = await client.getCertificate("tagged");
    expect(again.properties.tags).toEqual({ "rollover-target": "abc", "rollover-mode": "self" });
    const listed: Record<string, Record<string, string> | undefined> = {};
    for await (const p of client.listPropertiesOfCertificates()) listed[p.name as string] = p.tags;
    expect(listed.tagged).toEqual({ "rollover-target": "abc", "rollover-mode": "self" });

    const disabled = await client.updateCertificateProperties("tagged", "", { enabled: false });
    expect(disabled.properties.enabled).toBe(false);
    await expect(
      new SecretClient(sb().urls.vaultUrl, sandboxCredential(sb), opts).getSecret("tagged"),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: "Forbidden",
    });
  });

  it("speaks api-versions 7.5 and 7.6 too", async () => {
    for (const v of ["7.5", "7.6"] as const) {
      const poller = await certClient(v).beginCreateCertificate(
        `v${v.replace(".", "")}`,
        { issuerName: "Self", subject: `CN=v${v}` },
        { intervalInMs: 50 },
      );
      const c = await poller.pollUntilDone();
      expect(c.properties.version).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it("keeps an Unknown-issuer certificate pending until a merge with a certificate for its CSR", async () => {
    const client = certClient();
    const poller = await client.beginCreateCertificate(
      "external",
      { issuerName: "Unknown", subject: "CN=external" },
      { intervalInMs: 50 },
    );
    await new Promise((r) => setTimeout(r, 400));
    const op = await client.getCertificateOperation("external");
    const state = op.getOperationState().certificateOperation;
    expect(state?.status).toBe("inProgress");
    expect(state?.statusDetails).toBe(
      "Pending certificate created. Please Perform Merge to complete the request.",
    );
    expect(poller.isDone()).toBe(false);

    // A CA outside the vault signs the CSR.
    const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(state?.csr as Uint8Array));
    const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    const caKeys = (await webcrypto.subtle.generateKey(
      { ...alg, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const issued = await x509.X509CertificateGenerator.create({
      serialNumber: "0a",
      subject: csr.subject,
      issuer: "CN=Outside CA",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 90 * 86400_000),
      publicKey: await csr.publicKey.export(),
      signingKey: caKeys.privateKey,
      signingAlgorithm: alg,
    });
    const merged = await client.mergeCertificate("external", [new Uint8Array(issued.rawData)]);
    expect(Buffer.from(merged.cer as Uint8Array)).toEqual(Buffer.from(issued.rawData));
    const done = await client.getCertificateOperation("external");
    expect(done.getOperationState().certificateOperation?.status).toBe("completed");

    // A certificate for some other key is refused.
    await client.beginCreateCertificate("external2", { issuerName: "Unknown", subject: "CN=x" });
    await expect(
      client.mergeCertificate("external2", [new Uint8Array(issued.rawData)]),
    ).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
    });
  });
});

describe("Key Vault: the certificate's secret through @azure/keyvault-secrets", () => {
  let pemCert: Awaited<ReturnType<typeof createViaSdk>>;
  beforeAll(async () => {
    await createViaSdk("pfx-exportable", { issuerName: "Self", subject: "CN=pfx" });
    await createViaSdk("pfx-locked", { issuerName: "Self", subject: "CN=locked", exportable: false });
    pemCert = await createViaSdk("pem-exportable", {
      issuerName: "Self",
      subject: "CN=pem",
      contentType: "application/x-pem-file",
    });
    await createViaSdk("pem-locked", {
      issuerName: "Self",
      subject: "CN=pem-locked",
      contentType: "application/x-pem-file",
      exportable: false,
    });
  });

  it("returns an exportable certificate as a PKCS#12 that OpenSSL loads (key and certificate match)", async () => {
    const secrets = new SecretClient(sb().urls.vaultUrl, sandboxCredential(sb), opts);
    const cert = await certClient().getCertificate("pfx-exportable");
    const secret = await secrets.getSecret("pfx-exportable");
    expect(secret.properties.contentType).toBe("application/x-pkcs12");
    expect(secret.properties.managed).toBe(true);
    expect(secret.properties.certificateKeyId).toBe(cert.keyId);
    expect(secret.properties.version).toBe(cert.properties.version);
    const pfx = Buffer.from(secret.value as string, "base64");
    // A TLS server built from the PFX presents exactly the vault's certificate; OpenSSL checked
    // the MAC and that the private key belongs to it.
    expect(await servedThumbprint(pfx)).toBe(
      Buffer.from(cert.properties.x509Thumbprint as Uint8Array).toString("base64url"),
    );
  });

  it("leaves the private key out of a non-exportable certificate's PKCS#12", async () => {
    const secrets = new SecretClient(sb().urls.vaultUrl, sandboxCredential(sb), opts);
    const cert = await certClient().getCertificate("pfx-locked");
    const pfx = Buffer.from((await secrets.getSecret("pfx-locked")).value as string, "base64");
    expect(pfx.includes(Buffer.from(cert.cer as Uint8Array))).toBe(true);
    expect(() => createSecureContext({ pfx })).toThrow();
  });

  it("returns PEM (key then certificate) per the policy's content type, and no key when non-exportable", async () => {
    const secrets = new SecretClient(sb().urls.vaultUrl, sandboxCredential(sb), opts);
    const pem = (await secrets.getSecret("pem-exportable")).value as string;
    expect(pem).toMatch(
      /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n/,
    );
    const x = new X509Certificate(pem.slice(pem.indexOf("-----BEGIN CERTIFICATE-----")));
    expect(x.raw).toEqual(Buffer.from(pemCert.cer as Uint8Array));
    const pub = createPublicKey(createPrivateKey(pem)).export({ type: "spki", format: "der" });
    expect(pub).toEqual(x.publicKey.export({ type: "spki", format: "der" }));

    const locked = (await secrets.getSecret("pem-locked")).value as string;
    expect(locked).not.toContain("PRIVATE KEY");
    expect(locked).toContain("-----BEGIN CERTIFICATE-----");
  });
});

describe("Key Vault: the certificate's key through @azure/keyvault-keys", () => {
  it("returns the public JWK of the certificate's key", async () => {
    const cert = await createViaSdk("jwk-cert", { issuerName: "Self", subject: "CN=jwk" });
    const key = await new KeyClient(sb().urls.vaultUrl, sandboxCredential(sb), opts).getKey("jwk-cert");
    expect(key.id).toBe(cert.keyId);
    expect(key.keyType).toBe("RSA");
    // Default key usage (digitalSignature, keyEncipherment) → signing and encryption operations.
    expect(key.keyOperations).toEqual(["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"]);
    expect(key.properties.managed).toBe(true);
    expect(key.key?.d).toBeUndefined();
    const jwk = new X509Certificate(Buffer.from(cert.cer as Uint8Array)).publicKey.export({ format: "jwk" });
    expect(Buffer.from(key.key?.n as Uint8Array).toString("base64url")).toBe(jwk.n);
    expect(Buffer.from(key.key?.e as Uint8Array).toString("base64url")).toBe(jwk.e);
  });

  for (const exportable of [true, false]) {
    it(`signs digests remotely with RS256/PS256 (and 384/512) for ${exportable ? "an exportable" : "a non-exportable"} key`, async () => {
      const name = exportable ? "sign-exportable" : "sign-locked";
      const cert = await createViaSdk(name, { issuerName: "Self", subject: `CN=${name}`, exportable });
      const publicKey = new X509Certificate(Buffer.from(cert.cer as Uint8Array)).publicKey;
      const crypto = new CryptographyClient(cert.keyId as string, sandboxCredential(sb), opts);
      const data = Buffer.from("header.payload of a client assertion");
      for (const alg of ["RS256", "PS256", "RS384", "PS384", "RS512", "PS512"] as const) {
        const hash = `sha${alg.slice(2)}`;
        const digest = createHash(hash).update(data).digest();
        const signed = await crypto.sign(alg, digest);
        expect(signed.keyID).toBe(cert.keyId);
        const pss = alg.startsWith("PS");
        const ok = cryptoVerify(
          hash,
          data,
          pss
            ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digest.length }
            : publicKey,
          Buffer.from(signed.result),
        );
        expect(ok, alg).toBe(true);
        // verify over a digest also goes to the vault
        expect((await crypto.verify(alg, digest, signed.result)).result, alg).toBe(true);
      }
      const digest = createHash("sha256").update("other").digest();
      const sig = await crypto.sign("RS256", createHash("sha256").update(data).digest());
      expect((await crypto.verify("RS256", digest, sig.result)).result).toBe(false);
    });
  }

  it("refuses a digest of the wrong length and an unknown algorithm with BadParameter", async () => {
    const cert = await createViaSdk("sign-bad", { issuerName: "Self", subject: "CN=bad" });
    const crypto = new CryptographyClient(cert.keyId as string, sandboxCredential(sb), opts);
    await expect(crypto.sign("RS256", Buffer.alloc(20))).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
    });
    await expect(crypto.sign("ES256", Buffer.alloc(32))).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
    });
  });
});
