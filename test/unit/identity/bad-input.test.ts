/**
 * Bad input fails at construction with an EntraAgentIdError that names the option or the file and
 * says how to fix it — and never echoes key or secret text.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EntraAgentId, type EntraAgentIdOptions } from "../../../shared/identity/index.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";

const tenantId = "72f988bf-0000-4000-8000-00000000a11c";
const clientId = "11111111-2222-4333-8444-555555555555";
let dir: string;
let cert: TestCert;
let other: TestCert;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rollover-identity-bad-"));
  cert = await makeCert({ subject: "CN=bad-input" });
  other = await makeCert({ subject: "CN=bad-input-other" });
  writeFileSync(join(dir, "cert-only.pem"), cert.certPem);
  writeFileSync(join(dir, "key-only.pem"), cert.keyPem);
  writeFileSync(join(dir, "mismatch.pem"), `${cert.certPem}${other.keyPem}`);
  writeFileSync(
    join(dir, "garbage.pem"),
    `-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n${cert.keyPem}`,
  );
  writeFileSync(
    join(dir, "encrypted.pem"),
    `${cert.certPem}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n`,
  );
  writeFileSync(join(dir, "good.pem"), cert.pem);
});

type Case = [name: string, options: () => unknown, expected: RegExp];

const cases: Case[] = [
  [
    "a missing file",
    () => ({ tenantId, clientId, certificatePath: join(dir, "nope.pem") }),
    /'.*nope\.pem' \(ENOENT\).*does not exist/,
  ],
  ["a directory", () => ({ tenantId, clientId, certificatePath: dir }), /\(EISDIR\).*not its directory/],
  [
    "a file without a private key",
    () => ({ tenantId, clientId, certificatePath: join(dir, "cert-only.pem") }),
    /cert-only\.pem' holds no private key: append/,
  ],
  [
    "a file without a certificate",
    () => ({ tenantId, clientId, certificatePath: join(dir, "key-only.pem") }),
    /key-only\.pem' holds no certificate/,
  ],
  [
    "a key that does not match the certificate",
    () => ({ tenantId, clientId, certificatePath: join(dir, "mismatch.pem") }),
    /mismatch\.pem'.*private key does not match the certificate/,
  ],
  [
    "an unreadable certificate",
    () => ({ tenantId, clientId, certificatePath: join(dir, "garbage.pem") }),
    /garbage\.pem' holds a certificate block that is not a valid X\.509/,
  ],
  [
    "an encrypted key",
    () => ({ tenantId, clientId, certificatePath: join(dir, "encrypted.pem") }),
    /encrypted private key: decrypt it/,
  ],
  [
    "PEM text without a key",
    () => ({ tenantId, clientId, certificate: cert.certPem }),
    /Option 'certificate' holds no private key/,
  ],
  [
    "an unknown option",
    () => ({ tenantId, clientId, certificatePath: join(dir, "good.pem"), certPath: "x" }),
    /unknown option 'certPath': remove it \(known options: tenantId, clientId, certificatePath/,
  ],
  [
    "an unknown nested option",
    () => ({
      tenantId,
      clientId,
      keyVaultCertificate: { vaultUrl: "https://v.vault.azure.net/", name: "c", version: "1" },
    }),
    /unknown option 'keyVaultCertificate\.version'.*known options: vaultUrl, name, credential/,
  ],
  [
    "a scheduler without clearTimeout",
    () => ({ tenantId, clientId, certificate: cert.pem, scheduler: { setTimeout: () => 1 } }),
    /option 'scheduler' must be an object with setTimeout\(callback, ms\) and clearTimeout\(handle\) methods/,
  ],
  [
    "no credential",
    () => ({ tenantId, clientId }),
    /no credential given: set exactly one of certificatePath, certificate, keyVaultCertificate, clientSecret or managedIdentity/,
  ],
  [
    "two credentials",
    () => ({ tenantId, clientId, certificate: cert.pem, clientSecret: "s3cr3t-value" }),
    /only one credential may be given, but certificate and clientSecret are set/,
  ],
  ["no tenant", () => ({ clientId, certificate: cert.pem }), /option 'tenantId' is required/],
  ["no client id", () => ({ tenantId, certificate: cert.pem }), /option 'clientId' is required/],
  [
    "an http authority",
    () => ({ tenantId, clientId, certificate: cert.pem, authorityHost: "http://login.example" }),
    /option 'authorityHost' must be an https URL/,
  ],
  [
    "a bad vault URL",
    () => ({ tenantId, clientId, keyVaultCertificate: { vaultUrl: "my-vault", name: "c" } }),
    /option 'keyVaultCertificate\.vaultUrl' must be an https URL/,
  ],
  [
    "a bad certificate name",
    () => ({
      tenantId,
      clientId,
      keyVaultCertificate: { vaultUrl: "https://v.vault.azure.net/", name: "a b" },
    }),
    /keyVaultCertificate\.name' must be a Key Vault certificate name/,
  ],
  [
    "a bad managedIdentity",
    () => ({ managedIdentity: false }),
    /option 'managedIdentity' must be true .* or the client id/,
  ],
  ["an empty scope", () => ({ managedIdentity: true, scopes: "" }), /option 'scopes'/],
  [
    "agent identity with a mismatched clientId",
    () => ({
      tenantId,
      clientId,
      certificate: cert.pem,
      agentIdentity: { blueprintClientId: "b", agentClientId: "a" },
    }),
    /option 'clientId' differs from agentIdentity\.blueprintClientId/,
  ],
  [
    "agent identity without its agent",
    () => ({ tenantId, certificate: cert.pem, agentIdentity: { blueprintClientId: "b" } }),
    /option 'agentIdentity\.agentClientId'/,
  ],
  [
    "watchCertificateFile without a file",
    () => ({ tenantId, clientId, certificate: cert.pem, watchCertificateFile: true }),
    /option 'watchCertificateFile' only applies to certificatePath/,
  ],
  ["not an object", () => "tenant", /options must be an object/],
];

describe("EntraAgentId bad input", () => {
  it.each(cases)("%s", (_name, options, expected) => {
    let error: unknown;
    try {
      new EntraAgentId(options() as EntraAgentIdOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const e = error as Error & { code: string };
    expect(e.name).toBe("EntraAgentIdError");
    expect(["invalid_options", "invalid_certificate"]).toContain(e.code);
    expect(e.message).toMatch(expected);
    expect(e.message).not.toMatch(/BEGIN|PRIVATE KEY-----|s3cr3t-value/);
  });

  it("accepts each valid credential kind without network", async () => {
    const ok: EntraAgentIdOptions[] = [
      { tenantId, clientId, certificatePath: join(dir, "good.pem") },
      { tenantId, clientId, certificate: cert.pem },
      { tenantId, clientId, clientSecret: "value" },
      { tenantId, clientId, keyVaultCertificate: { vaultUrl: "https://v.vault.azure.net/", name: "c" } },
      { managedIdentity: true },
      { managedIdentity: clientId },
      { managedIdentity: true, clientId },
      {
        tenantId,
        certificate: cert.pem,
        agentIdentity: { blueprintClientId: clientId, agentClientId: tenantId },
      },
    ];
    for (const o of ok) await new EntraAgentId(o).close();
  });

  it("setRefreshInterval rejects a non-number", async () => {
    const a = new EntraAgentId({ managedIdentity: true });
    expect(() => a.setRefreshInterval(Number.NaN)).toThrow(/setRefreshInterval\(ms\) takes a number/);
    await a.close();
  });
});
