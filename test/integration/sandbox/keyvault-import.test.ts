/**
 * Certificate import (`POST /certificates/{name}/import`) with the real `CertificateClient`: a
 * person with Key Vault Certificates Officer imports a version, made elsewhere, into a certificate
 * Rollover manages. REST: https://learn.microsoft.com/rest/api/keyvault/certificates/import-certificate
 */
import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, createServer as createTlsServer } from "node:tls";
import { CertificateClient } from "@azure/keyvault-certificates";
import { CryptographyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptedPfx, issuedCert, pemOf } from "../../helpers/pfx.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { raw, sandboxCredential, vaultToken } from "./kv-helpers.js";

const sb = useSandbox();
const opts = { disableChallengeResourceVerification: true };
const certs = () => new CertificateClient(sb().urls.vaultUrl, sandboxCredential(sb), opts);

/** Receives Event Grid deliveries (Event Grid schema) and answers the validation handshake. */
const events: Array<{ eventType: string; subject: string; data: { Version: string } }> = [];
let hook: Server;
let hookUrl = "";

beforeAll(async () => {
  hook = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => {
      text += d;
    });
    req.on("end", () => {
      const body = JSON.parse(text) as Array<{ eventType: string; data: { validationCode?: string } }>;
      if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end(JSON.stringify({ validationResponse: body[0]?.data.validationCode }));
      }
      events.push(...(body as unknown as typeof events));
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/events`;
  await sb().eventGrid.subscribe({ name: "import-test", endpointUrl: hookUrl });
});

afterAll(async () => {
  await new Promise<void>((r) => hook.close(() => r()));
});

/** Serves TLS with `pfx` (OpenSSL must find key and certificate in it); the SHA-1 a client sees. */
async function servedThumbprint(pfx: Buffer): Promise<string> {
  const server = createTlsServer({ pfx }, (s) => s.end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const socket = connect({
      host: "127.0.0.1",
      port: (server.address() as AddressInfo).port,
      rejectUnauthorized: false,
    });
    await once(socket, "secureConnect");
    const peer = socket.getPeerCertificate(true);
    socket.destroy();
    return createHash("sha1").update(peer.raw).digest("hex").toUpperCase();
  } finally {
    server.close();
  }
}

async function importRaw(name: string, body: unknown) {
  return raw(`${sb().urls.vaultUrl}certificates/${name}/import?api-version=7.6`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${(await vaultToken(sb)).token}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify(body),
  });
}

async function selfIssued(name: string, tags: Record<string, string>) {
  const poller = await certs().beginCreateCertificate(
    name,
    { issuerName: "Self", subject: "CN=rollover-bound", exportable: false },
    { tags, intervalInMs: 50 },
  );
  return poller.pollUntilDone();
}

describe("Key Vault: certificate import", () => {
  it("imports a password-protected PFX as a new version of a bound certificate, with its key and tags", async () => {
    const name = "import-pfx";
    const created = await selfIssued(name, { "rollover-app": "payments" });
    const made = await issuedCert();
    const pfx = encryptedPfx([made.leaf, made.ca], made.pkcs8, "s3cret-pfx");
    const tags = { "rollover-app": "payments", imported: "by-officer" };

    const imported = await certs().importCertificate(name, pfx, { password: "s3cret-pfx", tags });

    expect(imported.properties.version).not.toBe(created.properties.version);
    expect(imported.properties.tags).toEqual(tags);
    expect(Buffer.from(imported.cer as Uint8Array).equals(made.leaf)).toBe(true);
    expect(imported.properties.x509ThumbprintString?.toUpperCase()).toBe(made.sha1Hex);
    expect(imported.properties.notBefore?.getTime()).toBe(Math.floor(made.notBefore.getTime() / 1000) * 1000);
    expect(imported.properties.expiresOn?.getTime()).toBe(Math.floor(made.notAfter.getTime() / 1000) * 1000);

    // The newest version is the imported one; the earlier one is still there.
    const latest = await certs().getCertificate(name);
    expect(latest.properties.version).toBe(imported.properties.version);
    const versions: string[] = [];
    for await (const p of certs().listPropertiesOfCertificateVersions(name)) versions.push(p.version ?? "");
    expect(versions.sort()).toEqual(
      [created.properties.version ?? "", imported.properties.version ?? ""].sort(),
    );

    // No pending operation: the service keeps none for an import.
    await expect(certs().getCertificateOperation(name)).rejects.toMatchObject({ statusCode: 404 });
    const pending = await raw(`${sb().urls.vaultUrl}certificates/${name}/pending?api-version=7.6`, {
      headers: { Authorization: `Bearer ${(await vaultToken(sb)).token}` },
    });
    expect(pending.status).toBe(404);
    expect(pending.json().error?.code).toBe("PendingCertificateNotFound");

    // The policy is the import's: issuer Unknown, EmailContacts, x509 properties from the certificate.
    const policy = await certs().getCertificatePolicy(name);
    expect(policy.issuerName).toBe("Unknown");
    expect(policy.lifetimeActions).toEqual([{ action: "EmailContacts", lifetimePercentage: 80 }]);
    expect(policy.subject).toBe(made.subject);
    expect(policy.enhancedKeyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(policy.keyUsage).toEqual(["digitalSignature"]);
    expect(policy.exportable).toBe(true);

    // The key behind the version is the imported one: Key Vault's signature verifies with it.
    const digest = createHash("sha256").update("imported").digest();
    const signed = await new CryptographyClient(imported.keyId as string, sandboxCredential(sb), opts).sign(
      "RS256",
      digest,
    );
    const leafKey = createPublicKey({ key: pemOf(made.leaf, "CERTIFICATE") });
    expect(cryptoVerify("sha256", Buffer.from("imported"), leafKey, Buffer.from(signed.result))).toBe(true);

    // Exportable per the import's policy: the secret carries the private key.
    const secret = await new SecretClient(sb().urls.vaultUrl, sandboxCredential(sb), opts).getSecret(name);
    expect(secret.properties.contentType).toBe("application/x-pkcs12");
    expect(await servedThumbprint(Buffer.from(secret.value as string, "base64"))).toBe(made.sha1Hex);

    // Event Grid: CertificateNewVersionCreated for the imported version.
    await sb().eventGrid.flush();
    expect(
      events.some(
        (e) =>
          e.eventType === "Microsoft.KeyVault.CertificateNewVersionCreated" &&
          e.subject === name &&
          e.data.Version === imported.properties.version,
      ),
    ).toBe(true);
  });

  it("reads a PKCS#12 file encrypted the legacy way (3DES, SHA-1 MAC), as .NET exports it", async () => {
    const made = await issuedCert({ subject: "CN=legacy.contoso.test" });
    const pfx = encryptedPfx([made.leaf], made.pkcs8, "legacy-pw", { legacy: true });
    const imported = await certs().importCertificate("import-legacy", pfx, { password: "legacy-pw" });
    expect(imported.properties.x509ThumbprintString?.toUpperCase()).toBe(made.sha1Hex);
    await expect(
      certs().importCertificate("import-legacy", pfx, { password: "not-it" }),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  // @azure/keyvault-certificates 4.10 does not serialize the `policy` option of importCertificate
  // (it reads `certificatePolicy`), so a PEM import, which needs `secret_props.contentType`, is
  // sent raw here, as the REST page describes it.
  it("imports PEM (PKCS#8 key and the chain) when the policy says application/x-pem-file", async () => {
    const made = await issuedCert({ subject: "CN=pem.contoso.test" });
    const pem =
      pemOf(made.pkcs8, "PRIVATE KEY") + pemOf(made.leaf, "CERTIFICATE") + pemOf(made.ca, "CERTIFICATE");
    const res = await importRaw("import-pem", {
      value: pem,
      policy: { key_props: { exportable: false }, secret_props: { contentType: "application/x-pem-file" } },
      tags: { source: "pem" },
    });
    expect(res.status).toBe(200);
    const bundle = res.json() as {
      x5t: string;
      policy: { issuer: { name: string }; key_props: { exportable: boolean }; secret_props: unknown };
      tags: Record<string, string>;
      pending?: unknown;
    };
    expect(Buffer.from(bundle.x5t, "base64url").toString("hex").toUpperCase()).toBe(made.sha1Hex);
    expect(bundle.policy.issuer.name).toBe("Unknown");
    expect(bundle.policy.key_props.exportable).toBe(false);
    expect(bundle.policy.secret_props).toEqual({ contentType: "application/x-pem-file" });
    expect(bundle.tags).toEqual({ source: "pem" });
    expect(bundle.pending).toBeUndefined();
    const secret = await new SecretClient(sb().urls.vaultUrl, sandboxCredential(sb), opts).getSecret(
      "import-pem",
    );
    // Not exportable: the secret holds the certificates only, leaf first.
    expect(secret.value).not.toContain("PRIVATE KEY");
    expect(secret.value?.startsWith(pemOf(made.leaf, "CERTIFICATE"))).toBe(true);
    expect(secret.value).toContain(pemOf(made.ca, "CERTIFICATE"));

    // PEM text sent without the content type is read as PKCS#12, and refused.
    const bare = await importRaw("import-pem-bare", { value: pem });
    expect(bare.status).toBe(400);
    expect(bare.json().error?.code).toBe("BadParameter");
    // A policy without secret_props.contentType is refused too (github.com/Azure/azure-sdk-for-go/issues/21780).
    const noType = await importRaw("import-pem-bare", {
      value: encryptedPfx([made.leaf], made.pkcs8, "pw").toString("base64"),
      pwd: "pw",
      policy: { key_props: { exportable: true } },
    });
    expect(noType.status).toBe(400);
    expect(noType.json().error?.message).toMatch(/policy/);
  });

  it("refuses a wrong password, a key that is not the certificate's, a non-PKCS#8 PEM key and a PEM without key, creating nothing", async () => {
    const name = "import-refused";
    const made = await issuedCert();
    const other = await issuedCert();
    // One at a time: a second request started before the first is awaited would leave its
    // rejection unhandled while the first is checked.
    const attempts: Array<() => Promise<unknown>> = [
      () =>
        certs().importCertificate(name, encryptedPfx([made.leaf], made.pkcs8, "right"), {
          password: "wrong",
        }),
      () => certs().importCertificate(name, encryptedPfx([made.leaf], other.pkcs8, "pw"), { password: "pw" }),
    ];
    for (const a of attempts)
      await expect(a()).rejects.toMatchObject({ statusCode: 400, code: "BadParameter" });
    const pemPolicy = { secret_props: { contentType: "application/x-pem-file" } };
    const pkcs1 = await importRaw(name, {
      value: pemOf(made.pkcs8, "RSA PRIVATE KEY") + pemOf(made.leaf, "CERTIFICATE"),
      policy: pemPolicy,
    });
    expect(pkcs1.status).toBe(400);
    expect(pkcs1.json().error?.message).toMatch(/PKCS#8/);
    const certOnly = await importRaw(name, { value: pemOf(made.leaf, "CERTIFICATE"), policy: pemPolicy });
    expect(certOnly.status).toBe(400);
    expect(certOnly.json().error?.message).toMatch(/private key/);
    await expect(certs().getCertificate(name)).rejects.toMatchObject({ statusCode: 404 });
  });

  // create-certificate-scenarios.md, "Create (or Import) when pending request exists": 409 with
  // code Forbidden, for create and import alike.
  it("answers 409 Forbidden to an import or a create while a create is pending, and 400 for a body without value", async () => {
    const name = "import-conflict";
    await certs().beginCreateCertificate(name, { issuerName: "Unknown", subject: "CN=pending" });
    const made = await issuedCert();
    const conflict = {
      statusCode: 409,
      code: "Forbidden",
      message:
        "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress.",
    };
    await expect(
      certs().importCertificate(name, encryptedPfx([made.leaf], made.pkcs8, "pw"), { password: "pw" }),
    ).rejects.toMatchObject(conflict);
    await expect(
      certs().beginCreateCertificate(name, { issuerName: "Unknown", subject: "CN=pending" }),
    ).rejects.toMatchObject(conflict);

    const res = await importRaw(`${name}-2`, { pwd: "x" });
    expect(res.status).toBe(400);
    expect(res.json().error?.code).toBe("BadParameter");
  });
});
