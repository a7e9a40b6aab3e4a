/**
 * api-versions: the sandbox's vault accepts whatever the installed `@azure/keyvault-*` SDKs send
 * (read from the requests the SDKs make, not written down here), every `serviceVersion` their
 * types allow, and the newer `2026-04-01` (`@azure/keyvault-secrets` 4.12.0's default); it refuses
 * any other as Key Vault does.
 */
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { CertificateClient, type CertificateClientOptions } from "@azure/keyvault-certificates";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import { describe, expect, it } from "vitest";
import { useSandbox } from "../../helpers/sandbox.js";
import { raw, sandboxCredential, vaultToken } from "./kv-helpers.js";

const sb = useSandbox();

/** Records the api-version of every request a client sends. */
function recorder(): {
  seen: Set<string>;
  additionalPolicies: [{ policy: PipelinePolicy; position: "perCall" }];
} {
  const seen = new Set<string>();
  const policy: PipelinePolicy = {
    name: "record-api-version",
    sendRequest: (req, next) => {
      const v = new URL(req.url).searchParams.get("api-version");
      if (v) seen.add(v);
      return next(req);
    },
  };
  return { seen, additionalPolicies: [{ policy, position: "perCall" }] };
}

// Every serviceVersion the installed SDKs' option types allow. A Record over the union: when an
// SDK update adds a version, this stops compiling until the version is listed (and tested).
const CERTIFICATE_VERSIONS: Record<NonNullable<CertificateClientOptions["serviceVersion"]>, true> = {
  "7.0": true,
  "7.1": true,
  "7.2": true,
  "7.3": true,
  "7.4": true,
  "7.5": true,
  "7.6": true,
  "2025-07-01": true,
};
const SECRET_VERSIONS: Record<NonNullable<SecretClientOptions["serviceVersion"]>, true> = {
  ...CERTIFICATE_VERSIONS,
};
/** Newer than the installed SDKs: @azure/keyvault-secrets 4.12.0 sends it by default. */
const NEWER = ["2026-04-01"];

async function exercise(serviceVersion?: string): Promise<Set<string>> {
  const rec = recorder();
  const opts = {
    disableChallengeResourceVerification: true,
    additionalPolicies: rec.additionalPolicies,
    ...(serviceVersion ? { serviceVersion: serviceVersion as never } : {}),
  };
  const cred = sandboxCredential(sb);
  const { vaultUrl } = sb().urls;
  const certs = new CertificateClient(vaultUrl, cred, opts);
  const name = `api-${(serviceVersion ?? "default").replace(/[^0-9a-z]/gi, "")}`;
  const poller = await certs.beginCreateCertificate(
    name,
    { issuerName: "Self", subject: `CN=${name}` },
    { intervalInMs: 50 },
  );
  const cert = await poller.pollUntilDone();
  await certs.getCertificatePolicy(name);
  for await (const _ of certs.listPropertiesOfCertificateVersions(name)) {
    // paging through
  }
  const key = await new KeyClient(vaultUrl, cred, opts).getKey(name);
  expect(key.key?.kty).toBe("RSA");
  const signed = await new CryptographyClient(cert.keyId as string, cred, opts).sign(
    "RS256",
    Buffer.alloc(32, 1),
  );
  expect(signed.result.length).toBe(256);
  const secret = await new SecretClient(vaultUrl, cred, opts).getSecret(name);
  expect(secret.properties.contentType).toBe("application/x-pkcs12");
  return rec.seen;
}

describe("Key Vault: api-versions", () => {
  it("accepts the api-version each installed SDK sends by default, for every call Rollover makes", async () => {
    const seen = await exercise();
    expect(seen.size).toBeGreaterThan(0);
    const { vaultUrl } = sb().urls;
    const auth = { Authorization: `Bearer ${(await vaultToken(sb)).token}` };
    for (const v of seen) {
      const res = await raw(`${vaultUrl}certificates?api-version=${v}`, { headers: auth });
      expect(res.status, v).toBe(200);
    }
  });

  it("accepts every serviceVersion the SDKs' types allow, and 2026-04-01 through the same clients", async () => {
    const all = [
      ...new Set([...Object.keys(CERTIFICATE_VERSIONS), ...Object.keys(SECRET_VERSIONS), ...NEWER]),
    ];
    for (const v of all) {
      const seen = await exercise(v);
      expect([...seen], v).toEqual([v]);
    }
  });

  it("refuses an unknown or missing api-version with 400 BadParameter, naming the latest", async () => {
    const { vaultUrl } = sb().urls;
    const auth = { Authorization: `Bearer ${(await vaultToken(sb)).token}` };
    for (const v of ["7.9", "2026-13-01", "2025-07-01-preview", ""]) {
      const res = await raw(`${vaultUrl}certificates?api-version=${v}`, { headers: auth });
      expect(res.status, v).toBe(400);
      expect(res.json().error).toEqual({
        code: "BadParameter",
        message: `The specified version (${v}) is not recognized. Consider using the latest supported version (2026-04-01).`,
      });
    }
  });
});
