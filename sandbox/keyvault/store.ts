/**
 * The vault's state: certificates, their versions (each with its key and secret, sharing one
 * version id as in the service), policies and pending operations; auto-renewal on the virtual
 * clock; and the JSON bundles the REST API returns.
 */
import { createHash, randomUUID } from "node:crypto";
import type { VirtualClock } from "../clock.js";
import type { CertificatePolicyInit, CertificateVersionInfo, VaultStore } from "../types.js";
import {
  createCsr,
  describeCertificate,
  type IssueProfile,
  inspectCertificate,
  issueSelfSigned,
  type KeyMaterial,
  KeyPool,
  keyMaterialFromPkcs8,
  spkiOf,
  toPem,
  x5tOf,
} from "./crypto.js";
import { ImportError, readPem, readPkcs12 } from "./import.js";
import { apiVersionAtLeast } from "./api-version.js";
import { buildPfx } from "./pkcs12.js";
import {
  autoRenewAt,
  badParameter,
  isSelfIssued,
  KvError,
  parsePolicy,
  policyJson,
  type StoredPolicy,
} from "./policy.js";

/** Soft delete with the default 90-day retention (a new vault's default). */
export const RECOVERY_LEVEL = "Recoverable+Purgeable";
export const RECOVERABLE_DAYS = 90;
/** Self-signed certificates start 10 minutes before they are made (recording, kv-monitor-functions.md §2.3). */
const BACKDATE_SECONDS = 600;

/**
 * Operations on a certificate's key, derived from the policy's key usage: signing usages allow
 * sign/verify, encipherment usages the four RSA encryption operations; the default usage
 * (digitalSignature, keyEncipherment) thus gives all six. The exact mapping is not documented;
 * this one is inferred from keys of certificates made with the default policy.
 */
export function keyOpsFor(keyUsage: string[]): string[] {
  // No key usage at all (an imported certificate without the extension) restricts nothing
  // (RFC 5280 §4.2.1.3).
  if (keyUsage.length === 0) return ["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"];
  const ops: string[] = [];
  if (keyUsage.some((u) => ["digitalSignature", "nonRepudiation", "keyCertSign", "cRLSign"].includes(u)))
    ops.push("sign", "verify");
  if (keyUsage.some((u) => ["keyEncipherment", "dataEncipherment", "keyAgreement"].includes(u)))
    ops.push("wrapKey", "unwrapKey", "encrypt", "decrypt");
  return ops;
}

export interface CertVersion {
  name: string;
  version: string;
  cer: Buffer;
  /** The chain after the leaf, for merged certificates. */
  chain: Buffer[];
  x5t: string;
  thumbprintHex: string;
  nbf: number;
  exp: number;
  created: number;
  updated: number;
  enabled: boolean;
  tags: Record<string, string>;
  key: KeyMaterial;
  exportable: boolean;
  contentType: StoredPolicy["secret_props"]["contentType"];
  kty: "RSA" | "RSA-HSM";
  keyOps: string[];
  preserveCertOrder?: boolean;
}

export interface PendingOperation {
  requestId: string;
  /** The version this operation will create. */
  version: string;
  issuerName: string;
  csr: Buffer;
  cancellationRequested: boolean;
  status: "inProgress" | "completed" | "cancelled" | "failed";
  statusDetails?: string;
  error?: { code: string; message: string };
  target?: string;
  key: KeyMaterial;
  policy: StoredPolicy;
  tags: Record<string, string>;
  enabled: boolean;
  created: number;
  preserveCertOrder?: boolean;
}

export interface CertEntry {
  name: string;
  versions: CertVersion[];
  policy: StoredPolicy;
  pending?: PendingOperation;
  /** Versions the AutoRenew action has already renewed. */
  autoRenewed: Set<string>;
}

export interface VaultOptions {
  clock: VirtualClock;
  name: string;
  /** The vault's base URL, without a trailing slash. */
  url: string;
  resourceId: string;
  log: (line: string) => void;
  /** Real milliseconds a `Self` create stays `inProgress` (default 250). */
  issuanceDelayMs?: number;
}

/** Status text of a pending `Self` operation (CreateCertificate example, §2.2). */
const IN_PROGRESS_DETAILS =
  "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later.";
/** Status text of an operation waiting for a merge (issuer `Unknown`). */
const AWAIT_MERGE_DETAILS = "Pending certificate created. Please Perform Merge to complete the request.";

/** One pool per process: sandboxes started one after another (tests) share its spare keys. */
const SHARED_POOL = new KeyPool();

export const CERTIFICATE_NAME = /^[0-9a-zA-Z-]{1,127}$/;

export function newVersionId(): string {
  return randomUUID().replace(/-/g, "");
}

function addMonths(epochSeconds: number, months: number): number {
  const d = new Date(epochSeconds * 1000);
  d.setUTCMonth(d.getUTCMonth() + months);
  return Math.floor(d.getTime() / 1000);
}

function profileOf(policy: StoredPolicy, notBefore: number, notAfter: number): IssueProfile {
  return {
    subject: policy.x509_props.subject || "CN=",
    sans: policy.x509_props.sans,
    ekus: policy.x509_props.ekus,
    keyUsage: policy.x509_props.key_usage,
    notBefore: new Date(notBefore * 1000),
    notAfter: new Date(notAfter * 1000),
  };
}

/** Maps the store-level policy description (seeds, tests) to the wire shape `parsePolicy` reads. */
function wirePolicy(init: CertificatePolicyInit | undefined): Record<string, unknown> {
  const p = init ?? {};
  return {
    key_props: {
      ...(p.keyType ? { kty: p.keyType } : {}),
      ...(p.keySize ? { key_size: p.keySize } : {}),
      ...(p.exportable !== undefined ? { exportable: p.exportable } : {}),
    },
    secret_props: p.contentType ? { contentType: p.contentType } : {},
    x509_props: {
      subject: p.subject ?? "CN=rollover-sandbox",
      ...(p.validityInMonths ? { validity_months: p.validityInMonths } : {}),
    },
    issuer: { name: p.issuerName ?? "Self" },
    ...(p.lifetimeActions ? { lifetime_actions: p.lifetimeActions } : {}),
  };
}

export class SandboxVault implements VaultStore {
  readonly name: string;
  readonly resourceId: string;
  readonly url: string;
  private readonly clock: VirtualClock;
  private readonly log: (line: string) => void;
  private readonly entries = new Map<string, CertEntry>();
  private readonly listeners: Array<(info: CertificateVersionInfo) => void> = [];
  private readonly pool = SHARED_POOL;
  private generation = 0;
  issuanceDelayMs: number;
  /** Object ids refused with 403 (tests of Key Vault's authorization errors). */
  readonly deniedObjectIds = new Set<string>();
  /** Requests allowed per window before 429 `Throttled` (service limit: 2000 per 10 s). */
  throttle = { limit: 2000, windowMs: 10_000 };

  constructor(opts: VaultOptions) {
    this.name = opts.name;
    this.url = opts.url.replace(/\/$/, "");
    this.resourceId = opts.resourceId;
    this.clock = opts.clock;
    this.log = opts.log;
    this.issuanceDelayMs = opts.issuanceDelayMs ?? 250;
    this.pool.warm(2048);
    this.clock.onAdvance(() => this.autoRenew());
  }

  // --- VaultStore ------------------------------------------------------------------------------

  async createCertificate(
    name: string,
    init: {
      policy?: CertificatePolicyInit;
      tags?: Record<string, string>;
      notBefore?: number;
      expires?: number;
    } = {},
  ): Promise<CertificateVersionInfo> {
    if (!CERTIFICATE_NAME.test(name)) throw badParameter(`The request URI contains an invalid name: ${name}`);
    const now = this.clock.nowSeconds();
    const entry = this.entries.get(name);
    const policy = parsePolicy(wirePolicy(init.policy), now, undefined);
    const created = init.notBefore !== undefined ? Math.min(now, init.notBefore + BACKDATE_SECONDS) : now;
    const nbf = init.notBefore ?? created - BACKDATE_SECONDS;
    const exp = init.expires ?? addMonths(created, policy.x509_props.validity_months);
    if (exp <= nbf) throw badParameter("expires must be after notBefore");
    const key = await this.keyFor(entry, policy);
    const cer = await issueSelfSigned(key, profileOf(policy, nbf, exp));
    const target = this.entry(name, policy);
    target.policy = policy;
    const v = this.commit(target, {
      version: newVersionId(),
      key,
      cer,
      chain: [],
      nbf,
      exp,
      created,
      tags: init.tags ?? {},
      enabled: true,
      policy,
    });
    if (target.pending?.status !== "inProgress") this.recordCompleted(target, v, policy);
    return this.info(v);
  }

  /** Benchmarks: reuse `count` RSA keys for every new certificate (see KeyPool.recycle). */
  recycleKeys(count: number | undefined): Promise<void> {
    return this.pool.recycle(2048, count);
  }

  latest(name: string): CertificateVersionInfo | undefined {
    const v = this.entries.get(name)?.versions.at(-1);
    return v ? this.info(v) : undefined;
  }

  versions(name: string): CertificateVersionInfo[] {
    return (this.entries.get(name)?.versions ?? []).map((v) => this.info(v));
  }

  certificateNames(): string[] {
    return [...this.entries.values()].filter((e) => e.versions.length > 0).map((e) => e.name);
  }

  onNewVersion(listener: (info: CertificateVersionInfo) => void): void {
    this.listeners.push(listener);
  }

  reset(): void {
    this.generation++;
    this.entries.clear();
    this.deniedObjectIds.clear();
  }

  // --- operations the REST API uses ----------------------------------------------------------

  get(name: string): CertEntry | undefined {
    return this.entries.get(name);
  }

  all(): CertEntry[] {
    return [...this.entries.values()];
  }

  findVersion(name: string, version: string | undefined): { entry: CertEntry; v: CertVersion } | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    const v = version ? entry.versions.find((x) => x.version === version) : entry.versions.at(-1);
    return v ? { entry, v } : undefined;
  }

  /** `POST /certificates/{name}/create`: starts a pending operation. */
  async beginCreate(
    name: string,
    body: {
      policy?: unknown;
      attributes?: { enabled?: boolean };
      tags?: Record<string, string>;
      preserveCertOrder?: boolean;
    },
  ): Promise<PendingOperation> {
    const now = this.clock.nowSeconds();
    const existing = this.entries.get(name);
    if (existing?.pending?.status === "inProgress") throw pendingConflict();
    if (body.policy === undefined && !existing)
      throw badParameter("Certificate policy is required to create a new certificate.");
    const policy =
      body.policy === undefined ? (existing as CertEntry).policy : parsePolicy(body.policy, now, undefined);
    const issuer = policy.issuer.name.toLowerCase();
    if (issuer !== "self" && issuer !== "unknown") {
      throw badParameter(
        `Issuer ${policy.issuer.name} is not configured in this vault: use Self or Unknown.`,
      );
    }
    const entry = this.entry(name, policy);
    entry.policy = policy;
    return this.startOperation(entry, policy, {
      tags: body.tags ?? {},
      enabled: body.attributes?.enabled ?? true,
      ...(body.preserveCertOrder !== undefined ? { preserveCertOrder: body.preserveCertOrder } : {}),
    });
  }

  private async startOperation(
    entry: CertEntry,
    policy: StoredPolicy,
    init: { tags: Record<string, string>; enabled: boolean; preserveCertOrder?: boolean },
  ): Promise<PendingOperation> {
    const now = this.clock.nowSeconds();
    const key = await this.keyFor(entry, policy);
    const self = isSelfIssued(policy);
    const op: PendingOperation = {
      requestId: newVersionId(),
      version: newVersionId(),
      issuerName: policy.issuer.name,
      csr: await createCsr(key, profileOf(policy, now, addMonths(now, policy.x509_props.validity_months))),
      cancellationRequested: false,
      status: "inProgress",
      statusDetails: self ? IN_PROGRESS_DETAILS : AWAIT_MERGE_DETAILS,
      key,
      policy,
      tags: init.tags,
      enabled: init.enabled,
      created: now,
      ...(init.preserveCertOrder !== undefined ? { preserveCertOrder: init.preserveCertOrder } : {}),
    };
    entry.pending = op;
    if (self) {
      const generation = this.generation;
      const done = new Promise<void>((resolve) => {
        setTimeout(() => {
          this.completeSelf(entry, op, generation)
            .catch((e) => {
              op.status = "failed";
              op.error = { code: "InternalError", message: (e as Error).message };
              delete op.statusDetails;
            })
            .finally(resolve);
        }, this.issuanceDelayMs);
      });
      this.inflight.add(done);
      void done.finally(() => this.inflight.delete(done));
    }
    return op;
  }

  private readonly inflight = new Set<Promise<void>>();

  /** Resolves when every `Self` issuance under way has finished (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private async completeSelf(entry: CertEntry, op: PendingOperation, generation: number): Promise<void> {
    if (generation !== this.generation || entry.pending !== op || op.status !== "inProgress") return;
    const created = this.clock.nowSeconds();
    const nbf = created - BACKDATE_SECONDS;
    const exp = addMonths(created, op.policy.x509_props.validity_months);
    const cer = await issueSelfSigned(op.key, profileOf(op.policy, nbf, exp));
    if (generation !== this.generation || entry.pending !== op || op.status !== "inProgress") return;
    this.commit(entry, {
      version: op.version,
      key: op.key,
      cer,
      chain: [],
      nbf,
      exp,
      created,
      tags: op.tags,
      enabled: op.enabled,
      policy: op.policy,
      ...(op.preserveCertOrder !== undefined ? { preserveCertOrder: op.preserveCertOrder } : {}),
    });
    op.status = "completed";
    delete op.statusDetails;
    op.target = `${this.url}/certificates/${entry.name}`;
  }

  /** `POST /certificates/{name}/pending/merge`. */
  merge(
    name: string,
    body: { x5c?: unknown; attributes?: { enabled?: boolean }; tags?: Record<string, string> },
  ): CertVersion {
    const entry = this.entries.get(name);
    const op = entry?.pending;
    if (!entry || !op || op.status !== "inProgress") {
      throw new KvError(404, "PendingCertificateNotFound", `Pending certificate not found: ${name}`);
    }
    if (isSelfIssued(op.policy))
      throw badParameter("A certificate issued by Self cannot be merged: the vault issues it.");
    const x5c = body.x5c;
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.some((c) => typeof c !== "string"))
      throw badParameter("Property x5c must be a non-empty array of base64 certificates.");
    const ders = (x5c as string[]).map((c) => Buffer.from(c, "base64"));
    let leaf: ReturnType<typeof inspectCertificate>;
    try {
      leaf = inspectCertificate(ders[0] as Buffer);
    } catch {
      throw badParameter("The x5c property does not hold a valid X.509 certificate.");
    }
    if (!leaf.spki.equals(spkiOf(op.key)))
      throw badParameter("Public key from x509 certificate and key of this instance doesn't match");
    const v = this.commit(entry, {
      version: op.version,
      key: op.key,
      cer: ders[0] as Buffer,
      chain: ders.slice(1),
      nbf: Math.floor(leaf.notBefore.getTime() / 1000),
      exp: Math.floor(leaf.notAfter.getTime() / 1000),
      created: this.clock.nowSeconds(),
      tags: body.tags ?? op.tags,
      enabled: body.attributes?.enabled ?? op.enabled,
      policy: op.policy,
    });
    op.status = "completed";
    delete op.statusDetails;
    op.target = `${this.url}/certificates/${name}`;
    return v;
  }

  /** `PATCH /certificates/{name}/pending` with `cancellation_requested: true`. */
  cancel(name: string): PendingOperation {
    const op = this.pendingOf(name);
    if (op.status === "inProgress") {
      op.cancellationRequested = true;
      op.status = "cancelled";
      delete op.statusDetails;
    }
    return op;
  }

  /** `DELETE /certificates/{name}/pending`. */
  deletePending(name: string): PendingOperation {
    const op = this.pendingOf(name);
    const entry = this.entries.get(name) as CertEntry;
    delete entry.pending;
    if (entry.versions.length === 0) this.entries.delete(name);
    return op;
  }

  pendingOf(name: string): PendingOperation {
    const op = this.entries.get(name)?.pending;
    if (!op) throw new KvError(404, "PendingCertificateNotFound", `Pending certificate not found: ${name}`);
    return op;
  }

  /**
   * `POST /certificates/{name}/import` (ImportCertificate, REST spec
   * `specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.5/certificates.json` and its
   * `ImportCertificate-example.json`): a new version with the imported key and certificate, done
   * at once (200, no operation). The certificate's policy becomes the import's: the given fields,
   * `x509_props` read from the certificate, and, where the policy names none, issuer `Unknown` and
   * an `EmailContacts` action ("When a certificate is imported without a specified policy or with
   * a policy that does not have issuer or lifetime action fields specified, the issuer field is
   * set to unknown and the lifetime actions field is set to EmailContacts", import-certificate
   * REST page; "subsequent operations will use the new policy", certificate-scenarios.md). An
   * earlier operation record is gone: `GET …/pending` answers 404 afterwards.
   */
  async importCertificate(
    name: string,
    body: {
      value?: unknown;
      pwd?: unknown;
      policy?: unknown;
      attributes?: { enabled?: unknown };
      tags?: unknown;
      preserveCertOrder?: unknown;
    },
  ): Promise<CertVersion> {
    const existing = this.entries.get(name);
    if (existing?.pending?.status === "inProgress") throw pendingConflict();
    if (typeof body.value !== "string" || body.value === "")
      throw badParameter("Property value is required: the base64 PFX or the PEM text to import.");
    if (body.pwd !== undefined && body.pwd !== null && typeof body.pwd !== "string")
      throw badParameter("Property pwd must be a string.");
    const enabled = body.attributes?.enabled;
    if (enabled !== undefined && typeof enabled !== "boolean")
      throw badParameter("Property attributes.enabled must be a boolean.");
    const tags = checkTags(body.tags) ?? {};
    const given =
      body.policy === undefined || body.policy === null
        ? {}
        : typeof body.policy === "object" && !Array.isArray(body.policy)
          ? (body.policy as Record<string, unknown>)
          : (() => {
              throw badParameter("Property policy must be an object.");
            })();
    const secretProps = (given.secret_props ?? {}) as { contentType?: unknown };
    // With a policy the service wants its content type, even for PKCS#12 (answers recorded in
    // github.com/Azure/azure-sdk-for-go/issues/21780 and Azure/azure-sdk-for-net#13043).
    if (body.policy !== undefined && body.policy !== null && secretProps.contentType === undefined)
      throw badParameter("Property policy has invalid value\r\n");
    const contentType = secretProps.contentType ?? "application/x-pkcs12";
    if (contentType !== "application/x-pkcs12" && contentType !== "application/x-pem-file")
      throw badParameter(`Invalid content type ${String(contentType)}.`);

    let material: ReturnType<typeof readPem>;
    try {
      material =
        contentType === "application/x-pem-file"
          ? readPem(body.value, (body.pwd as string | undefined) ?? "")
          : readPkcs12(Buffer.from(body.value, "base64"), (body.pwd as string | undefined) ?? "");
    } catch (e) {
      if (e instanceof ImportError) throw badParameter(e.message);
      throw e;
    }
    const key = await keyMaterialFromPkcs8(material.pkcs8);
    if (!key)
      throw badParameter(
        "Key type is not supported by this vault: certificates here use RSA or RSA-HSM keys.",
      );
    if (![2048, 3072, 4096].includes(key.size))
      throw badParameter(`Invalid key size ${key.size}: RSA keys are 2048, 3072 or 4096 bits.`);
    const spki = spkiOf(key);
    const described = material.certificates.map((der) => ({ der, info: describeCertificate(der) }));
    const leaf = described.find((c) => c.info.spki.equals(spki));
    if (!leaf) throw badParameter("Public key from x509 certificate and key of this instance doesn't match");
    const nbf = Math.floor(leaf.info.notBefore.getTime() / 1000);
    const exp = Math.floor(leaf.info.notAfter.getTime() / 1000);
    const now = this.clock.nowSeconds();
    const givenKeyProps = (given.key_props ?? {}) as Record<string, unknown>;
    const policy = parsePolicy(
      {
        ...given,
        key_props: { ...givenKeyProps, kty: givenKeyProps.kty ?? "RSA", key_size: key.size },
        secret_props: { contentType },
        x509_props: {
          subject: leaf.info.subject,
          sans: leaf.info.sans,
          ekus: leaf.info.ekus,
          key_usage: leaf.info.keyUsage,
          validity_months: monthsBetween(nbf, exp),
        },
      },
      now,
      undefined,
    );
    const preserve = body.preserveCertOrder === true;
    const chain = preserve
      ? material.certificates.filter((c) => c !== leaf.der)
      : described.filter((c) => c !== leaf).map((c) => c.der);
    const entry = this.entry(name, policy);
    entry.policy = policy;
    delete entry.pending;
    return this.commit(entry, {
      version: newVersionId(),
      key,
      cer: leaf.der,
      chain,
      nbf,
      exp,
      created: now,
      tags,
      enabled: enabled ?? true,
      policy,
      ...(body.preserveCertOrder !== undefined ? { preserveCertOrder: preserve } : {}),
    });
  }

  updatePolicy(name: string, raw: unknown): StoredPolicy {
    const entry = this.entries.get(name);
    if (!entry) throw certificateNotFound(name);
    entry.policy = parsePolicy(raw, this.clock.nowSeconds(), entry.policy);
    return entry.policy;
  }

  /** `PATCH /certificates/{name}/{version}`: tags and `enabled`. */
  updateVersion(
    name: string,
    version: string | undefined,
    body: { attributes?: { enabled?: unknown }; tags?: unknown; policy?: unknown },
  ): { entry: CertEntry; v: CertVersion } {
    const found = this.findVersion(name, version);
    if (!found) throw certificateNotFound(name);
    const { entry, v } = found;
    const tags = checkTags(body.tags);
    if (tags) v.tags = tags;
    const enabled = body.attributes?.enabled;
    if (enabled !== undefined) {
      if (typeof enabled !== "boolean") throw badParameter("Property attributes.enabled must be a boolean.");
      v.enabled = enabled;
    }
    if (body.policy !== undefined && body.policy !== null) this.updatePolicy(name, body.policy);
    v.updated = this.clock.nowSeconds();
    return { entry, v };
  }

  // --- auto-renewal --------------------------------------------------------------------------

  /** Issues a new version of every `Self` certificate whose AutoRenew trigger the clock has passed. */
  async autoRenew(): Promise<void> {
    const now = this.clock.nowSeconds();
    for (const entry of [...this.entries.values()]) {
      const latest = entry.versions.at(-1);
      if (!latest || entry.autoRenewed.has(latest.version)) continue;
      if (!isSelfIssued(entry.policy) || !entry.policy.attributes.enabled) continue;
      if (entry.pending?.status === "inProgress") continue;
      const at = autoRenewAt(entry.policy, latest.nbf, latest.exp);
      if (at === undefined || at > now) continue;
      entry.autoRenewed.add(latest.version);
      const policy = entry.policy;
      const key = await this.keyFor(entry, policy);
      const created = this.clock.nowSeconds();
      const nbf = created - BACKDATE_SECONDS;
      const exp = addMonths(created, policy.x509_props.validity_months);
      const cer = await issueSelfSigned(key, profileOf(policy, nbf, exp));
      // "Tags are replicated on autorenewal" (overview-renew-certificate.md FAQ).
      const v = this.commit(entry, {
        version: newVersionId(),
        key,
        cer,
        chain: [],
        nbf,
        exp,
        created,
        tags: { ...latest.tags },
        enabled: true,
        policy,
      });
      this.recordCompleted(entry, v, policy);
      this.log(`keyvault: auto-renewed ${entry.name} → ${v.version}`);
    }
  }

  // --- internals -----------------------------------------------------------------------------

  private entry(name: string, policy: StoredPolicy): CertEntry {
    let e = this.entries.get(name);
    if (!e) {
      e = { name, versions: [], policy, autoRenewed: new Set() };
      this.entries.set(name, e);
    }
    return e;
  }

  private async keyFor(entry: CertEntry | undefined, policy: StoredPolicy): Promise<KeyMaterial> {
    const latest = entry?.versions.at(-1);
    if (policy.key_props.reuse_key && latest && latest.key.size === policy.key_props.key_size)
      return latest.key;
    return this.pool.take(policy.key_props.key_size);
  }

  /** A completed operation record, as the service keeps one after the vault issues a version itself. */
  private recordCompleted(entry: CertEntry, v: CertVersion, policy: StoredPolicy): void {
    entry.pending = {
      requestId: newVersionId(),
      version: v.version,
      issuerName: policy.issuer.name,
      csr: Buffer.alloc(0),
      cancellationRequested: false,
      status: "completed",
      target: `${this.url}/certificates/${entry.name}`,
      key: v.key,
      policy,
      tags: v.tags,
      enabled: v.enabled,
      created: v.created,
    };
  }

  private commit(
    entry: CertEntry,
    init: {
      version: string;
      key: KeyMaterial;
      cer: Buffer;
      chain: Buffer[];
      nbf: number;
      exp: number;
      created: number;
      tags: Record<string, string>;
      enabled: boolean;
      policy: StoredPolicy;
      preserveCertOrder?: boolean;
    },
  ): CertVersion {
    const v: CertVersion = {
      name: entry.name,
      version: init.version,
      cer: init.cer,
      chain: init.chain,
      x5t: x5tOf(init.cer),
      thumbprintHex: createHash("sha1").update(init.cer).digest("hex").toUpperCase(),
      nbf: init.nbf,
      exp: init.exp,
      created: init.created,
      updated: init.created,
      enabled: init.enabled,
      tags: { ...init.tags },
      key: init.key,
      exportable: init.policy.key_props.exportable,
      contentType: init.policy.secret_props.contentType,
      kty: init.policy.key_props.kty,
      keyOps: keyOpsFor(init.policy.x509_props.key_usage),
      ...(init.preserveCertOrder !== undefined ? { preserveCertOrder: init.preserveCertOrder } : {}),
    };
    entry.versions.push(v);
    const info = this.info(v);
    for (const l of this.listeners) {
      try {
        l(info);
      } catch (e) {
        this.log(`keyvault: a new-version listener failed: ${(e as Error).message}`);
      }
    }
    return v;
  }

  info(v: CertVersion): CertificateVersionInfo {
    return {
      name: v.name,
      version: v.version,
      id: `${this.url}/certificates/${v.name}/${v.version}`,
      kid: `${this.url}/keys/${v.name}/${v.version}`,
      cerDer: new Uint8Array(v.cer),
      thumbprintHex: v.thumbprintHex,
      notBefore: v.nbf,
      expires: v.exp,
      created: v.created,
      enabled: v.enabled,
      tags: { ...v.tags },
    };
  }

  // --- JSON shapes ---------------------------------------------------------------------------

  attributesJson(v: CertVersion): Record<string, unknown> {
    return {
      enabled: v.enabled,
      nbf: v.nbf,
      exp: v.exp,
      created: v.created,
      updated: v.updated,
      recoveryLevel: RECOVERY_LEVEL,
      recoverableDays: RECOVERABLE_DAYS,
    };
  }

  /**
   * A key's attributes. `CryptographyClient` refuses locally to use a key before its `nbf`,
   * judged on the process clock, which the virtual clock does not move; so a key whose `nbf` is
   * in the virtual present but the real future reports `nbf` no later than the real now. Key
   * Vault itself (sign) still judges `nbf` on the virtual clock.
   */
  keyAttributesJson(v: CertVersion): Record<string, unknown> {
    const realNow = Math.floor((this.clock.now() - this.clock.offset) / 1000);
    return { ...this.attributesJson(v), nbf: Math.min(v.nbf, realNow) };
  }

  /** CertificateBundle (recorded shape, kv-monitor-functions.md §2.3). */
  certificateBundle(entry: CertEntry, v: CertVersion, apiVersion: string): Record<string, unknown> {
    return {
      id: `${this.url}/certificates/${v.name}/${v.version}`,
      kid: `${this.url}/keys/${v.name}/${v.version}`,
      sid: `${this.url}/secrets/${v.name}/${v.version}`,
      x5t: v.x5t,
      cer: v.cer.toString("base64"),
      attributes: this.attributesJson(v),
      policy: policyJson(entry.policy, `${this.url}/certificates/${v.name}/policy`),
      ...(entry.pending ? { pending: { id: `${this.url}/certificates/${v.name}/pending` } } : {}),
      ...(Object.keys(v.tags).length > 0 ? { tags: { ...v.tags } } : {}),
      // preserveCertOrder came with api-version 7.6 (REST spec stable/7.6 certificates.json).
      ...(v.preserveCertOrder !== undefined && apiVersionAtLeast(apiVersion, "7.6")
        ? { preserveCertOrder: v.preserveCertOrder }
        : {}),
    };
  }

  /** The bundle of a certificate whose first version is still pending: no `cer` yet, disabled. */
  pendingBundle(entry: CertEntry, op: PendingOperation): Record<string, unknown> {
    return {
      id: `${this.url}/certificates/${entry.name}/${op.version}`,
      kid: `${this.url}/keys/${entry.name}/${op.version}`,
      sid: `${this.url}/secrets/${entry.name}/${op.version}`,
      attributes: {
        enabled: false,
        created: op.created,
        updated: op.created,
        recoveryLevel: RECOVERY_LEVEL,
        recoverableDays: RECOVERABLE_DAYS,
      },
      policy: policyJson(entry.policy, `${this.url}/certificates/${entry.name}/policy`),
      pending: { id: `${this.url}/certificates/${entry.name}/pending` },
      ...(Object.keys(op.tags).length > 0 ? { tags: { ...op.tags } } : {}),
    };
  }

  /** CertificateItem, as lists return it. */
  certificateItem(v: CertVersion, withVersion: boolean): Record<string, unknown> {
    return {
      id: `${this.url}/certificates/${v.name}${withVersion ? `/${v.version}` : ""}`,
      x5t: v.x5t,
      attributes: this.attributesJson(v),
      ...(Object.keys(v.tags).length > 0 ? { tags: { ...v.tags } } : {}),
    };
  }

  /** CertificateOperation (CreateCertificate / GetCertificateOperation examples, §2.2). */
  operationJson(name: string, op: PendingOperation): Record<string, unknown> {
    return {
      id: `${this.url}/certificates/${name}/pending`,
      issuer: { name: op.issuerName },
      ...(op.csr.length > 0 ? { csr: op.csr.toString("base64") } : {}),
      cancellation_requested: op.cancellationRequested,
      status: op.status,
      ...(op.statusDetails ? { status_details: op.statusDetails } : {}),
      ...(op.error ? { error: op.error } : {}),
      ...(op.target ? { target: op.target } : {}),
      ...(op.preserveCertOrder !== undefined ? { preserveCertOrder: op.preserveCertOrder } : {}),
      request_id: op.requestId,
    };
  }

  /**
   * SecretBundle of a certificate (recorded, §2.5): PKCS#12 (base64) or PEM per the policy's
   * content type, `managed: true`, `kid`. A non-exportable certificate's secret holds only the
   * certificate chain, no private key (about-certificates.md, "Exportable or Non-exportable key").
   */
  secretBundle(v: CertVersion): Record<string, unknown> {
    const certs = [v.cer, ...v.chain];
    let value: string;
    if (v.contentType === "application/x-pem-file") {
      const key = v.exportable ? toPem(v.key.pkcs8, "PRIVATE KEY") : "";
      value = key + certs.map((c) => toPem(c, "CERTIFICATE")).join("");
    } else {
      value = buildPfx(v.cer, v.exportable ? v.key.pkcs8 : undefined).toString("base64");
    }
    return {
      value,
      contentType: v.contentType,
      id: `${this.url}/secrets/${v.name}/${v.version}`,
      managed: true,
      attributes: this.attributesJson(v),
      ...(Object.keys(v.tags).length > 0 ? { tags: { ...v.tags } } : {}),
      kid: `${this.url}/keys/${v.name}/${v.version}`,
    };
  }

  /** SecretItem (lists of secrets). */
  secretItem(v: CertVersion, withVersion: boolean): Record<string, unknown> {
    return {
      id: `${this.url}/secrets/${v.name}${withVersion ? `/${v.version}` : ""}`,
      attributes: this.attributesJson(v),
      ...(Object.keys(v.tags).length > 0 ? { tags: { ...v.tags } } : {}),
      contentType: v.contentType,
      managed: true,
    };
  }

  /** KeyBundle of a certificate's key: the public JWK only, `managed: true`. */
  keyBundle(v: CertVersion): Record<string, unknown> {
    return {
      key: {
        kid: `${this.url}/keys/${v.name}/${v.version}`,
        kty: v.kty,
        key_ops: [...v.keyOps],
        n: v.key.n,
        e: v.key.e,
      },
      attributes: this.keyAttributesJson(v),
      ...(Object.keys(v.tags).length > 0 ? { tags: { ...v.tags } } : {}),
      managed: true,
    };
  }

  keyItem(v: CertVersion, withVersion: boolean): Record<string, unknown> {
    return {
      kid: `${this.url}/keys/${v.name}${withVersion ? `/${v.version}` : ""}`,
      attributes: this.attributesJson(v),
      ...(Object.keys(v.tags).length > 0 ? { tags: { ...v.tags } } : {}),
      managed: true,
    };
  }
}

/** Tags of a request body: at most 15, string values (about-keys-secrets-certificates.md). */
function checkTags(raw: unknown): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw))
    throw badParameter("Property tags must be an object of strings.");
  const tags = raw as Record<string, unknown>;
  if (Object.keys(tags).length > 15) throw badParameter("A certificate can have at most 15 tags.");
  for (const [k, val] of Object.entries(tags)) {
    if (typeof val !== "string") throw badParameter(`Tag ${k} must be a string.`);
    if (k.length > 512 || val.length > 256) throw badParameter(`Tag ${k} is too long.`);
  }
  return { ...(tags as Record<string, string>) };
}

/** Whole months from `nbf` to `exp`, rounded up (the ImportCertificate example: 297 for 2015→2040). */
function monthsBetween(nbf: number, exp: number): number {
  const a = new Date(nbf * 1000);
  const b = new Date(exp * 1000);
  let months = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + (b.getUTCMonth() - a.getUTCMonth());
  if (addMonths(nbf, months) < exp) months++;
  return Math.max(1, months);
}

/**
 * Create or import while an operation is `inProgress`: 409 with code `Forbidden`, as
 * create-certificate-scenarios.md ("Create (or Import) when pending request exists") shows it.
 */
function pendingConflict(): KvError {
  return new KvError(
    409,
    "Forbidden",
    "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress.",
  );
}

export function certificateNotFound(name: string): KvError {
  return new KvError(
    404,
    "CertificateNotFound",
    `A certificate with (name/id) ${name} was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

export function keyNotFound(name: string): KvError {
  return new KvError(
    404,
    "KeyNotFound",
    `A key with (name/id) ${name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

export function secretNotFound(name: string): KvError {
  return new KvError(
    404,
    "SecretNotFound",
    `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}
