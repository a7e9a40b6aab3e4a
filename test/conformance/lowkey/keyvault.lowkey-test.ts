/**
 * The Key Vault edge (shared/azure/keyvault.ts) against Lowkey Vault, an independent Key Vault
 * emulator, and the same cases against the sandbox; then a rotation end to end with Key Vault
 * from Lowkey Vault and Entra/Graph from the sandbox (the engine takes any VaultEdge).
 *
 * Where the two disagree, what the real service does decides (sources in
 * test/fixtures/golden/README.md and the notes below):
 *
 * - Create without `key_props.kty` / `secret_props.contentType`: Lowkey Vault answers 400
 *   (`must not be null`); Key Vault fills the defaults (RSA, application/x-pkcs12) — the
 *   recorded create with the SDK's minimal policy in azure-sdk-for-js
 *   sdk/keyvault/keyvault-certificates/recordings/node/certificates_client__create_read_update_and_delete/
 *   recording_can_get_a_certificates_secret_in_pkcs_12_format.json got them. The sandbox does what
 *   the service does; Rollover itself always sends the certificate's full stored policy on renew,
 *   so it is not affected. The seeds below send the full policy so both accept them.
 * - Self-signed notBefore: Lowkey Vault backdates 1 s, Key Vault 10 min (same recording: nbf =
 *   created − 600). The sandbox follows the recording; nothing here depends on the amount.
 * - Validity: Lowkey Vault's X.509 notBefore/notAfter are cut to midnight UTC while `attributes`
 *   carry the creation second; Key Vault's `attributes.nbf/exp` are the certificate's own.
 * - Import: Lowkey Vault refuses a PKCS#12 without a password ("Password must not be null") and
 *   a PEM body ("Illegal base64 character"); Key Vault takes both (ImportCertificate-example.json,
 *   about-certificates.md). Rollover never imports; the rotation test imports with password "".
 * - Version lists: Lowkey Vault lists newest first, the sandbox oldest first; the REST spec
 *   (GetCertificateVersions-example.json) promises no order, and the edge does not depend on one.
 */
import { createHash, createVerify, X509Certificate } from "node:crypto";
import { ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import type { CertificatePolicy } from "@azure/keyvault-certificates";
import { describe, expect, it } from "vitest";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const skip = process.env.LOWKEY_SKIP;
const lowkeyUrl = process.env.LOWKEY_VAULT_URL;
if (skip) console.warn(`Lowkey Vault lane skipped: ${skip}`);
else console.info(`Lowkey Vault: ${process.env.LOWKEY_INFO ?? ""}`);

/** Lowkey Vault checks that a bearer token is present, not what it says. */
const anyToken: TokenCredential = {
  getToken: async () => ({ token: "conformance", expiresOnTimestamp: Date.now() + HOUR }),
};

/** A full policy: both vaults accept it (see the note on defaults above). */
function policy(subject: string): CertificatePolicy {
  return {
    issuerName: "Self",
    subject,
    validityInMonths: 12,
    keyType: "RSA",
    keySize: 2048,
    exportable: false,
    reuseKey: false,
    contentType: "application/x-pkcs12",
    keyUsage: ["digitalSignature"],
    lifetimeActions: [{ action: "EmailContacts", lifetimePercentage: 80 }],
  };
}

async function seed(edge: VaultEdge, name: string, tags: Record<string, string>): Promise<string> {
  const poller = await edge.client.beginCreateCertificate(name, policy(`CN=${name}`), {
    tags,
    intervalInMs: 100,
  });
  const c = await poller.pollUntilDone();
  return c.properties.version!;
}

function verifySignature(cer: Uint8Array, signingInput: string, signature: Uint8Array): boolean {
  const cert = new X509Certificate(Buffer.from(cer));
  return createVerify("RSA-SHA256").update(signingInput).verify(cert.publicKey, Buffer.from(signature));
}

/** The edge's Key Vault operations, the same against either vault. */
function edgeCases(label: string, edge: () => VaultEdge) {
  const name = `conf-${label}-${Date.now().toString(36)}`;
  const tags = { "rollover-target": "00000000-0000-4000-8000-0000000000c1", "rollover-mode": "self" };
  let first = "";
  let second: string | undefined;

  it(`${label}: a new certificate is listed with its tags and observed with one version and its policy`, async () => {
    first = await seed(edge(), name, tags);
    const listed: Array<{ name: string; tags: Record<string, string> }> = [];
    for await (const c of edge().listCertificates()) listed.push(c);
    expect(listed.find((c) => c.name === name)?.tags).toEqual(tags);
    const o = await edge().observe(name);
    expect(o).toBeDefined();
    expect(o!.versions.map((v) => v.version)).toEqual([first]);
    expect(o!.policy).toMatchObject({ issuerName: "Self", renewable: true });
    expect(o!.renewalPending).toBe(false);
    expect(o!.tags).toEqual(tags);
    const v = o!.versions[0]!;
    expect(v.enabled).toBe(true);
    expect(v.expires).toBeGreaterThan(v.notBefore);
  });

  it(`${label}: material carries the DER certificate, its kid, thumbprint and validity`, async () => {
    const m = await edge().material(name, first);
    expect(m.kid).toMatch(new RegExp(`/keys/${name}/${first}$`));
    const cert = new X509Certificate(Buffer.from(m.cer));
    expect(m.thumbprintHex).toBe(createHash("sha1").update(m.cer).digest("hex").toUpperCase());
    if (label === "lowkey") {
      // Lowkey Vault cuts the X.509 validity to midnight UTC and reports the creation second in
      // `attributes`; Key Vault reports the certificate's own notBefore/notAfter there (recorded
      // bundle, kv-monitor-functions.md §2.3). The edge reads `attributes`, as against the service.
      expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(m.notBefore);
      expect(m.expires - Date.parse(cert.validTo)).toBeLessThan(DAY);
    } else {
      expect(Math.abs(m.notBefore - Date.parse(cert.validFrom))).toBeLessThan(1000);
      expect(Math.abs(m.expires - Date.parse(cert.validTo))).toBeLessThan(1000);
    }
    const o = await edge().observe(name);
    expect(o!.versions[0]!.thumbprint).toBe(m.thumbprintHex);
  });

  it(`${label}: signer signs with the certificate's key (verified with node:crypto against the certificate)`, async () => {
    const m = await edge().material(name, first);
    const input = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjb25mb3JtYW5jZSJ9";
    const digest = createHash("sha256").update(input).digest();
    const signature = await edge().signer(m.kid)("RS256", new Uint8Array(digest));
    expect(signature.length).toBe(256);
    expect(verifySignature(m.cer, input, signature)).toBe(true);
    expect(verifySignature(m.cer, `${input}x`, signature)).toBe(false);
  });

  it(`${label}: renew issues a new version with the existing policy and carries the tags over`, async () => {
    second = await edge().renew(name, tags, 20_000, 100);
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    const o = await edge().observe(name);
    expect(o!.versions.map((v) => v.version).sort()).toEqual([first, second!].sort());
    expect(o!.tags).toEqual(tags);
    expect(o!.renewalPending).toBe(false);
    const p = await edge().client.getCertificatePolicy(name);
    expect(p).toMatchObject({ issuerName: "Self", subject: `CN=${name}`, keyType: "RSA", keySize: 2048 });
    const a = await edge().material(name, first);
    const b = await edge().material(name, second!);
    expect(b.thumbprintHex).not.toBe(a.thumbprintHex);
    const digest = createHash("sha256").update("x.y").digest();
    expect(verifySignature(b.cer, "x.y", await edge().signer(b.kid)("RS256", new Uint8Array(digest)))).toBe(
      true,
    );
  });

  it(`${label}: an unknown certificate is observed as undefined`, async () => {
    expect(await edge().observe(`${name}-missing`)).toBeUndefined();
  });
}

describe.skipIf(!!skip)("Key Vault edge against Lowkey Vault", () => {
  edgeCases("lowkey", () => new VaultEdge(lowkeyUrl!, anyToken));
});

// One sandbox for the file: managed identity tokens are cached per client id in the process.
describe("Key Vault edge against the sandbox (the same cases)", () => {
  const sb = useSandbox({ seed: "empty" });
  edgeCases("sandbox", () => {
    useSandboxIdentity(sb());
    return new VaultEdge(
      sb().urls.vaultUrl,
      new ManagedIdentityCredential({ clientId: sb().ctx.managedIdentity.clientId }),
    );
  });
});
