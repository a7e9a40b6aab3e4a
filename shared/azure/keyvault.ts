/**
 * Key Vault, through @azure/keyvault-certificates and @azure/keyvault-keys. Wire types end here:
 * what leaves this file are the core's plain values.
 *
 * Private keys never leave Key Vault: signatures are made by Key Vault's `sign` on the key
 * behind a certificate version (`CryptographyClient` on the bundle's `kid`), so non-exportable
 * keys work and Rollover needs no access to secrets.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { createHash, X509Certificate } from "node:crypto";
import { Pkcs10CertificateRequest } from "@peculiar/x509";
import type { TokenCredential } from "@azure/identity";
import {
  CertificateClient,
  type CertificateOperation,
  type CertificatePolicy,
  type CertificateProperties,
  type CertificateClientOptions,
  type KeyVaultCertificate,
} from "@azure/keyvault-certificates";
import {
  CryptographyClient,
  KeyClient,
  type KeyVaultKey,
  parseKeyVaultKeyIdentifier,
} from "@azure/keyvault-keys";
import type { CertificatePolicySummary, CertificateVersion, LifetimeTrigger } from "../core/model.js";
import { isRenewableIssuer } from "../core/snapshot.js";
import { cached } from "../cache.js";
import type { CertificateRef, DigestSigner } from "./signed-jwt.js";

/** Key Vault DNS suffixes of the public and national clouds. Other hosts (a local sandbox) skip the challenge-resource check. */
const KNOWN_SUFFIXES = [
  ".vault.azure.net",
  ".vault.azure.cn",
  ".vault.usgovcloudapi.net",
  ".vault.microsoftazure.de",
  ".managedhsm.azure.net",
];

/** Whether a host is a Key Vault of Azure's public or national clouds. */
export function isCloudVaultHost(host: string): boolean {
  const h = host.toLowerCase();
  return KNOWN_SUFFIXES.some((s) => h.endsWith(s));
}

export function vaultClientOptions(vaultUrl: string): CertificateClientOptions {
  const known = isCloudVaultHost(new URL(vaultUrl).hostname);
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

/** The certificate's current (or last) operation, as `GET /certificates/{name}/pending` returns it. */
export interface OperationInfo {
  requestId: string;
  status: string;
  /** SHA-256 (hex) of the public key in the operation's CSR; undefined when it has none. */
  spkiSha256?: string;
}

export interface CertificateObservation {
  versions: CertificateVersion[];
  policy: CertificatePolicySummary;
  renewalPending: boolean;
  /** The certificate's operation, if Key Vault still holds one. */
  operation?: OperationInfo;
  /** Tags of the newest version (the binding's). */
  tags: Record<string, string>;
}

export interface VersionMaterial extends CertificateRef {
  version: string;
  kid: string;
  cer: Uint8Array;
  notBefore: number;
  expires: number;
  /** SHA-256 (hex) of the certificate's public key (SubjectPublicKeyInfo, DER). */
  spkiSha256: string;
}

/** SHA-256 (hex) of the public key in a PKCS#10 request (Key Vault's `csr`, DER). */
export function csrSpkiSha256(csr: Uint8Array): string | undefined {
  try {
    const req = new Pkcs10CertificateRequest(Buffer.from(csr));
    return createHash("sha256").update(Buffer.from(req.publicKey.rawData)).digest("hex");
  } catch {
    return undefined;
  }
}

/** SHA-256 (hex) of the public key of a certificate (DER). */
export function certSpkiSha256(cer: Uint8Array): string {
  const spki = new X509Certificate(Buffer.from(cer)).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("hex");
}

function operationInfo(op: CertificateOperation | undefined): OperationInfo | undefined {
  if (!op?.requestId) return undefined;
  const spki = op.csr && op.csr.length > 0 ? csrSpkiSha256(op.csr) : undefined;
  return { requestId: op.requestId, status: op.status ?? "", ...(spki ? { spkiSha256: spki } : {}) };
}

function lifetimeTriggers(policy: CertificatePolicy): LifetimeTrigger[] {
  return (policy.lifetimeActions ?? []).flatMap((a): LifetimeTrigger[] => {
    if (typeof a.daysBeforeExpiry === "number") return [{ daysBeforeExpiry: a.daysBeforeExpiry }];
    if (typeof a.lifetimePercentage === "number") return [{ lifetimePercentage: a.lifetimePercentage }];
    return [];
  });
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

/** Whether Key Vault holds a certificate operation, and the one it holds. */
export interface OperationObservation {
  renewalPending: boolean;
  operation?: OperationInfo;
}

/** Versions' material and signers a vault edge keeps, each. */
const KEPT = 4096;

export class VaultEdge {
  readonly name: string;
  readonly client: CertificateClient;
  /** One key client (one pipeline, one bearer challenge) behind every signer of this vault. */
  private readonly keys: KeyClient;
  // The policy as Key Vault returned it, behind the summary `observe` returned: `beginRenew`
  // sends it back with the create instead of reading it again (keyed by the summary object, so
  // it lives exactly as long as the observation that holds it).
  private readonly readPolicies = new WeakMap<CertificatePolicySummary, CertificatePolicy>();

  constructor(
    readonly vaultUrl: string,
    private readonly credential: TokenCredential,
  ) {
    this.name = vaultNameFromUrl(vaultUrl);
    this.client = new CertificateClient(vaultUrl, credential, vaultClientOptions(vaultUrl));
    this.keys = new KeyClient(vaultUrl, credential, vaultClientOptions(vaultUrl));
  }

  /** Every certificate with its newest version's tags (bindings are the ones with rollover-* tags). */
  async *listCertificates(): AsyncIterable<CertificateSummary> {
    for await (const p of this.client.listPropertiesOfCertificates()) {
      if (p.name) yield { name: p.name, tags: { ...(p.tags ?? {}) } };
    }
  }

  /**
   * Versions, policy and pending operation of one certificate; `undefined` if it does not exist.
   * With `operation: false` the pending operation is not read (`renewalPending` false, no
   * `operation`): for a caller that reads it with `operation()` only when its decision needs it.
   *
   * The policy comes with the certificate (`getCertificate`: the newest version with its policy,
   * one request like `getCertificatePolicy`), so that version's certificate and key id are kept
   * too: it is usually the one that signs next (the proof and the token as the target).
   */
  async observe(
    name: string,
    opts: { operation?: boolean } = {},
  ): Promise<CertificateObservation | undefined> {
    const listed = await this.listVersions(name);
    if (!listed) return undefined;
    const { versions, newest } = listed;
    const {
      renewalPending,
      operation,
      policy: fromOperation,
    } = opts.operation === false ? { renewalPending: false } : await this.operationAndPolicy(name);
    const policy = fromOperation ?? (await this.policyWithNewest(name));
    return {
      versions,
      policy: this.summarize(policy),
      renewalPending,
      ...(operation ? { operation } : {}),
      tags: { ...(newest?.tags ?? {}) },
    };
  }

  /**
   * The policy, read with the newest version (`GET /certificates/{name}`, which answers the
   * certificate with its policy); the version's material is kept. Falls back to
   * `getCertificatePolicy` should Key Vault answer without a policy.
   */
  private async policyWithNewest(name: string): Promise<CertificatePolicy> {
    const c = await this.client.getCertificate(name);
    this.keepMaterial(name, c);
    return c.policy ?? (await this.client.getCertificatePolicy(name));
  }

  /** The certificate's versions (`GET …/versions`); `undefined` if it does not exist. */
  async versions(name: string): Promise<CertificateVersion[] | undefined> {
    return (await this.listVersions(name))?.versions;
  }

  private async listVersions(
    name: string,
  ): Promise<{ versions: CertificateVersion[]; newest?: CertificateProperties } | undefined> {
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
    return newest ? { versions, newest } : { versions };
  }

  /** The core's view of a policy; the policy itself is kept behind it for `beginRenew`. */
  private summarize(policy: CertificatePolicy): CertificatePolicySummary {
    const issuerName = policy.issuerName ?? "Unknown";
    const summary: CertificatePolicySummary = {
      issuerName,
      renewable: isRenewableIssuer(issuerName),
      exportable: policy.exportable === true,
      lifetimeTriggers: lifetimeTriggers(policy),
      ...(policy.validityInMonths ? { validityMonths: policy.validityInMonths } : {}),
    };
    this.readPolicies.set(summary, policy);
    return summary;
  }

  /** The certificate's operation (`GET …/pending`), if Key Vault holds one. */
  async operation(name: string): Promise<OperationObservation> {
    const { policy: _p, ...op } = await this.operationAndPolicy(name);
    return op;
  }

  /**
   * The operation, and, once it is no longer running, the certificate with its policy: the SDK's
   * operation poller reads the certificate when it sees the operation finished, and that answer
   * is kept (material of the newest version) rather than read again.
   *
   * The poller is resumed as already started (`resumeFrom`, in the form the SDK's own poller
   * serializes to): a new one would first read the certificate before the operation, a read
   * whose answer it then replaces.
   */
  private async operationAndPolicy(
    name: string,
  ): Promise<OperationObservation & { policy?: CertificatePolicy }> {
    try {
      const poller = await this.client.getCertificateOperation(name, {
        resumeFrom: JSON.stringify({ state: { certificateName: name, isStarted: true } }),
      });
      const state = poller.getOperationState();
      const operation = operationInfo(state.certificateOperation);
      const renewalPending = state.certificateOperation?.status === "inProgress";
      const result = renewalPending ? undefined : state.result;
      if (result) this.keepMaterial(name, result);
      return {
        renewalPending,
        ...(operation ? { operation } : {}),
        ...(result?.policy ? { policy: result.policy } : {}),
      };
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return { renewalPending: false };
    }
  }

  /** Keeps a version's material from an answer that carries it (a pending first version has none). */
  private keepMaterial(name: string, c: KeyVaultCertificate): void {
    const version = c.properties.version;
    if (!version) return;
    try {
      cached(
        this.materials,
        `${name}/${version}`,
        () => Promise.resolve(this.materialOf(name, version, c)),
        KEPT,
      );
    } catch {
      // no cer yet: read on first use instead
    }
  }

  // A version's certificate and key id never change, and a signer's client is set up once: both
  // are kept for the life of this edge, at most KEPT of each.
  private readonly materials = new Map<string, Promise<VersionMaterial>>();
  private readonly signers = new Map<string, DigestSigner>();

  /** The material Rollover needs of one version to sign with it and to attach it. */
  material(name: string, version: string): Promise<VersionMaterial> {
    return cached(this.materials, `${name}/${version}`, () => this.readMaterial(name, version), KEPT);
  }

  private async readMaterial(name: string, version: string): Promise<VersionMaterial> {
    return this.materialOf(name, version, await this.client.getCertificateVersion(name, version));
  }

  private materialOf(name: string, version: string, c: KeyVaultCertificate): VersionMaterial {
    if (!c.cer || !c.keyId || !c.properties.notBefore || !c.properties.expiresOn) {
      throw new Error(`Key Vault returned certificate ${name}/${version} without cer, kid or validity`);
    }
    const cer = c.cer;
    return {
      version,
      kid: c.keyId,
      cer,
      thumbprintHex: createHash("sha1").update(cer).digest("hex").toUpperCase(),
      spkiSha256: certSpkiSha256(cer),
      sha256Hex: createHash("sha256").update(cer).digest("hex").toUpperCase(),
      notBefore: c.properties.notBefore.getTime(),
      expires: c.properties.expiresOn.getTime(),
    };
  }

  /**
   * Asks Key Vault for a new version with the certificate's existing policy, carrying the
   * binding's tags over (tags belong to a version). Returns the operation's request id and the
   * public key of its CSR (Key Vault generated that key: the proof a version came from this
   * operation), and `wait`, which polls until Key Vault finished or `waitMs` passed and returns
   * the new version (undefined while Key Vault is still issuing it); the version's material is
   * kept from the answer that completed the operation. The key is always requested
   * non-exportable (`key_props.exportable: false`), and an AutoRenew lifetime action becomes
   * EmailContacts: Rollover renews the binding, Key Vault only notices.
   * Permission: certificates/create (Key Vault Certificates Officer, or Rollover's custom role),
   * https://learn.microsoft.com/azure/key-vault/general/rbac-guide
   */
  async beginRenew(
    name: string,
    tags: Record<string, string>,
    pollMs = 1000,
    /** The policy summary `observe` just returned: its policy is sent back instead of read again. */
    observed?: CertificatePolicySummary,
  ): Promise<{
    requestId: string;
    spkiSha256?: string;
    /** The certificate's policy from now on: the one sent with the create. */
    policy: CertificatePolicySummary;
    wait(waitMs: number): Promise<CertificateVersion | undefined>;
  }> {
    // The new key is made non-exportable whatever the policy said, so it can never leave Key
    // Vault (the policy sent with create becomes the certificate's policy).
    const current =
      (observed && this.readPolicies.get(observed)) ?? (await this.client.getCertificatePolicy(name));
    const policy: CertificatePolicy = {
      ...current,
      exportable: false,
      // Rollover is the binding's renewer: Key Vault's AutoRenew becomes a notice (same trigger),
      // so Key Vault no longer issues versions Rollover did not ask for.
      ...(current.lifetimeActions
        ? {
            lifetimeActions: current.lifetimeActions.map((a) =>
              a.action === "AutoRenew" ? { ...a, action: "EmailContacts" as const } : a,
            ),
          }
        : {}),
    };
    const poller = await this.client.beginCreateCertificate(name, policy, { tags, intervalInMs: pollMs });
    // The poller's first update sent the create and read the operation it started (`GET …/pending`,
    // with its CSR) into its internal state (its public state leaves the operation out); should a
    // version of the SDK not keep it there, it is read again (`getCertificateOperation`). Key
    // Vault refuses a second create while one runs.
    const started = (
      poller as unknown as { operation?: { state?: { certificateOperation?: CertificateOperation } } }
    ).operation?.state?.certificateOperation;
    const op = operationInfo(
      started?.requestId
        ? started
        : (await this.client.getCertificateOperation(name)).getOperationState().certificateOperation,
    );
    if (!op) throw new Error(`Key Vault started no certificate operation for ${name} (no request_id)`);
    return {
      requestId: op.requestId,
      ...(op.spkiSha256 ? { spkiSha256: op.spkiSha256 } : {}),
      policy: this.summarize(policy),
      wait: async (waitMs: number) => {
        const deadline = Date.now() + waitMs;
        while (!poller.isDone() && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, pollMs));
          await poller.poll();
        }
        if (!poller.isDone()) return undefined;
        const result = poller.getResult();
        const version = result?.properties.version;
        const issued = result && version ? toVersion(result.properties) : undefined;
        if (!result || !version || !issued) return undefined;
        // The answer that completed the operation carries the new version's certificate and kid.
        this.keepMaterial(name, result);
        return issued;
      },
    };
  }

  /** beginRenew, then wait up to `waitMs`: the new version, or undefined while still issuing. */
  async renew(
    name: string,
    tags: Record<string, string>,
    waitMs: number,
    pollMs = 1000,
  ): Promise<string | undefined> {
    return (await (await this.beginRenew(name, tags, pollMs)).wait(waitMs))?.version;
  }

  /** A signer for JWTs, by Key Vault's `sign` on the key behind a certificate version. */
  signer(kid: string): DigestSigner {
    return cached(
      this.signers,
      kid,
      (): DigestSigner => {
        const crypto = this.cryptographyClient(kid);
        return async (alg, digest) => (await crypto.sign(alg, digest)).result;
      },
      KEPT,
    );
  }

  /**
   * A CryptographyClient that signs with the key `kid` and reads nothing first. Given only a key
   * id, the client reads the key (`GET /keys/{name}/{version}`) before its first `sign`, to learn
   * whether it could do the operation locally; a signature is always Key Vault's (the private key
   * never leaves it), so it is given the key as a `KeyVaultKey` without key material instead
   * (the documented constructor), and goes straight to `sign`.
   *
   * It shares the vault's KeyClient pipeline, as `KeyClient.getCryptographyClient` does, so the
   * bearer challenge is paid once per vault and not once per key; should a version of the SDK
   * not expose that pipeline, the client makes its own (one challenge per key, nothing else).
   */
  private cryptographyClient(kid: string): CryptographyClient {
    const { name, version, vaultUrl } = parseKeyVaultKeyIdentifier(kid);
    const key: KeyVaultKey = {
      id: kid,
      name,
      properties: { id: kid, name, vaultUrl, ...(version ? { version } : {}) },
    };
    const pipeline = (this.keys as unknown as { client?: unknown }).client;
    const options = {
      ...vaultClientOptions(this.vaultUrl),
      ...(pipeline && typeof pipeline === "object" ? { generatedClient: pipeline } : {}),
    };
    return new CryptographyClient(key, this.credential, options);
  }
}
