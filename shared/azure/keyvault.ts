/**
 * Key Vault, through @azure/keyvault-certificates and @azure/keyvault-keys. Wire types end here:
 * what leaves this file are the core's plain values.
 *
 * Private keys never leave Key Vault: signatures are made by Key Vault's `sign` on the key
 * behind a certificate version (`CryptographyClient` on the bundle's `kid`), so non-exportable
 * keys work and Rollover needs no access to secrets.
 */
import { createHash } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import {
  CertificateClient,
  type CertificatePolicy,
  type CertificateProperties,
  type CertificateClientOptions,
} from "@azure/keyvault-certificates";
import { CryptographyClient } from "@azure/keyvault-keys";
import type { CertificatePolicySummary, CertificateVersion } from "../core/model.js";
import { isRenewableIssuer } from "../core/snapshot.js";
import type { CertificateRef, DigestSigner } from "./signed-jwt.js";

/** Key Vault DNS suffixes of the public and national clouds. Other hosts (a local sandbox) skip the challenge-resource check. */
const KNOWN_SUFFIXES = [
  ".vault.azure.net",
  ".vault.azure.cn",
  ".vault.usgovcloudapi.net",
  ".vault.microsoftazure.de",
  ".managedhsm.azure.net",
];

export function vaultClientOptions(vaultUrl: string): CertificateClientOptions {
  const host = new URL(vaultUrl).hostname.toLowerCase();
  const known = KNOWN_SUFFIXES.some((s) => host.endsWith(s));
  // For a custom endpoint (e.g. the sandbox) the documented switch is disableChallengeResourceVerification.
  return known ? {} : { disableChallengeResourceVerification: true };
}

/** The vault's name: the first DNS label (`contoso-kv` of contoso-kv.vault.azure.net), or host:port for a local endpoint. */
export function vaultNameFromUrl(vaultUrl: string): string {
  const u = new URL(vaultUrl);
  const host = u.hostname.toLowerCase();
  if (KNOWN_SUFFIXES.some((s) => host.endsWith(s))) return host.split(".")[0]!;
  return u.port ? `${host}:${u.port}` : host;
}

export interface CertificateSummary {
  name: string;
  tags: Record<string, string>;
}

export interface CertificateObservation {
  versions: CertificateVersion[];
  policy: CertificatePolicySummary;
  renewalPending: boolean;
  /** Tags of the newest version (the binding's). */
  tags: Record<string, string>;
}

export interface VersionMaterial extends CertificateRef {
  version: string;
  kid: string;
  cer: Uint8Array;
  notBefore: number;
  expires: number;
}

function toVersion(p: CertificateProperties): CertificateVersion | undefined {
  const thumb = p.x509Thumbprint ? Buffer.from(p.x509Thumbprint).toString("hex").toUpperCase() : undefined;
  if (!p.version || !thumb || !p.notBefore || !p.expiresOn) return undefined;
  return {
    version: p.version,
    thumbprint: thumb,
    notBefore: p.notBefore.getTime(),
    expires: p.expiresOn.getTime(),
    created: (p.createdOn ?? p.notBefore).getTime(),
    enabled: p.enabled !== false,
  };
}

function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 404;
}

export class VaultEdge {
  readonly name: string;
  readonly client: CertificateClient;

  constructor(
    readonly vaultUrl: string,
    private readonly credential: TokenCredential,
  ) {
    this.name = vaultNameFromUrl(vaultUrl);
    this.client = new CertificateClient(vaultUrl, credential, vaultClientOptions(vaultUrl));
  }

  /** Every certificate with its newest version's tags (bindings are the ones with rollover-* tags). */
  async *listCertificates(): AsyncIterable<CertificateSummary> {
    for await (const p of this.client.listPropertiesOfCertificates()) {
      if (p.name) yield { name: p.name, tags: { ...(p.tags ?? {}) } };
    }
  }

  /** Versions, policy and pending operation of one certificate; `undefined` if it does not exist. */
  async observe(name: string): Promise<CertificateObservation | undefined> {
    const versions: CertificateVersion[] = [];
    let newest: CertificateProperties | undefined;
    try {
      for await (const p of this.client.listPropertiesOfCertificateVersions(name)) {
        const v = toVersion(p);
        if (v) versions.push(v);
        if (!newest || (p.createdOn?.getTime() ?? 0) > (newest.createdOn?.getTime() ?? 0)) newest = p;
      }
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    if (versions.length === 0 && !newest) return undefined;
    const policy = await this.client.getCertificatePolicy(name);
    const issuerName = policy.issuerName ?? "Unknown";
    let renewalPending = false;
    try {
      const op = await this.client.getCertificateOperation(name);
      renewalPending = op.getOperationState().certificateOperation?.status === "inProgress";
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    return {
      versions,
      policy: {
        issuerName,
        renewable: isRenewableIssuer(issuerName),
        ...(policy.validityInMonths ? { validityMonths: policy.validityInMonths } : {}),
      },
      renewalPending,
      tags: { ...(newest?.tags ?? {}) },
    };
  }

  // A version's certificate and key id never change, and a CryptographyClient pays a challenge
  // and a key read on first use: both are kept for the life of this edge (bounded).
  private readonly materials = new Map<string, Promise<VersionMaterial>>();
  private readonly signers = new Map<string, DigestSigner>();

  /** The material Rollover needs of one version to sign with it and to attach it. */
  material(name: string, version: string): Promise<VersionMaterial> {
    const key = `${name}/${version}`;
    let m = this.materials.get(key);
    if (!m) {
      m = this.readMaterial(name, version);
      m.catch(() => this.materials.delete(key));
      this.materials.set(key, m);
      if (this.materials.size > 4096) this.materials.delete(this.materials.keys().next().value!);
    }
    return m;
  }

  private async readMaterial(name: string, version: string): Promise<VersionMaterial> {
    const c = await this.client.getCertificateVersion(name, version);
    if (!c.cer || !c.keyId || !c.properties.notBefore || !c.properties.expiresOn) {
      throw new Error(`Key Vault returned certificate ${name}/${version} without cer, kid or validity`);
    }
    const cer = c.cer;
    return {
      version,
      kid: c.keyId,
      cer,
      thumbprintHex: createHash("sha1").update(cer).digest("hex").toUpperCase(),
      sha256Hex: createHash("sha256").update(cer).digest("hex").toUpperCase(),
      notBefore: c.properties.notBefore.getTime(),
      expires: c.properties.expiresOn.getTime(),
    };
  }

  /**
   * Asks Key Vault for a new version with the certificate's existing policy, carrying the
   * binding's tags over (tags belong to a version). Waits for completion up to `waitMs`;
   * returns the new version, or undefined if Key Vault is still issuing it.
   */
  async renew(
    name: string,
    tags: Record<string, string>,
    waitMs: number,
    pollMs = 1000,
  ): Promise<string | undefined> {
    const policy: CertificatePolicy = await this.client.getCertificatePolicy(name);
    const poller = await this.client.beginCreateCertificate(name, policy, { tags, intervalInMs: pollMs });
    const deadline = Date.now() + waitMs;
    while (!poller.isDone() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, pollMs));
      await poller.poll();
    }
    if (!poller.isDone()) return undefined;
    const result = poller.getResult();
    return result?.properties.version;
  }

  /** A signer for JWTs, by Key Vault's `sign` on the key behind a certificate version. */
  signer(kid: string): DigestSigner {
    let s = this.signers.get(kid);
    if (!s) {
      const crypto = new CryptographyClient(kid, this.credential, vaultClientOptions(this.vaultUrl));
      s = async (alg, digest) => (await crypto.sign(alg, digest)).result;
      this.signers.set(kid, s);
      if (this.signers.size > 4096) this.signers.delete(this.signers.keys().next().value!);
    }
    return s;
  }
}
