/**
 * A tenant snapshot: the plain-JSON form of everything `plan` needs (directory objects as Graph
 * returns them, Key Vault certificates with tags and versions, state records). `rollover plan
 * --snapshot file.json` reads one; the example tenant in `examples/tenant.json` is one.
 *
 * Parsing never throws on a bad credential or object: those become issues with reason codes,
 * and the rest of the snapshot is still planned. Only a snapshot whose *shape* is wrong (not
 * JSON, no `objects` array …) is refused, with a `SnapshotError` listing every problem.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { type BindingParse, bindingFromTags } from "./binding.js";
import {
  type CertificatePolicySummary,
  type CertificateVersion,
  type KeyCredential,
  type PasswordCredential,
  type StateRecord,
  type Target,
  targetTypeOfOdata,
} from "./model.js";
import { Reason, type ReasonCode } from "./reasons.js";
import { firstSeenKey } from "./sweep.js";
import { type EpochMs, parseInstant } from "./time.js";

export class SnapshotError extends Error {
  override name = "SnapshotError";
  constructor(readonly problems: string[]) {
    super(`Invalid snapshot: ${problems.join("; ")}`);
  }
}

export interface SnapshotIssue {
  reason: ReasonCode;
  objectId?: string;
  keyId?: string;
  certificate?: string;
  message: string;
}

export interface SnapshotCertificate {
  vaultName: string;
  name: string;
  tags: Record<string, string>;
  binding: BindingParse | undefined;
  policy: CertificatePolicySummary;
  versions: CertificateVersion[];
  renewalPending: boolean;
  nearExpiryEvent: boolean;
}

export interface TenantSnapshot {
  tenantId: string;
  now?: EpochMs;
  selfIds: string[];
  /** Objects Rollover's identity owns (lower-case ids). */
  owned: string[];
  targets: Target[];
  certificates: SnapshotCertificate[];
  state: Map<string, StateRecord>;
  /** When Rollover first saw each credential (`firstSeenKey` → ms), as its sweep records it. */
  firstSeen: Map<string, EpochMs>;
  issues: SnapshotIssue[];
}

const credentialShape = z
  .object({
    keyId: z.string().min(1),
    displayName: z.string().nullish(),
    startDateTime: z.unknown(),
    endDateTime: z.unknown(),
  })
  .passthrough();

const objectShape = z
  .object({
    id: z.string().min(1),
    appId: z.string().default(""),
    displayName: z.string().default(""),
    "@odata.type": z.string().optional(),
    keyCredentials: z.array(credentialShape).default([]),
    passwordCredentials: z.array(credentialShape).default([]),
  })
  .passthrough();

const versionShape = z.object({
  version: z.string().min(1),
  thumbprint: z.string().regex(/^[0-9A-Fa-f]{40}$/, "a 40-digit hex SHA-1 thumbprint"),
  notBefore: z.string(),
  expires: z.string(),
  created: z.string().optional(),
  enabled: z.boolean().default(true),
});

const snapshotShape = z.object({
  tenantId: z.string().min(1),
  now: z.string().optional(),
  rollover: z
    .object({
      objectIds: z.array(z.string()).default([]),
      /** Objects Rollover's identity owns (what managed mode may change). */
      owns: z.array(z.string()).default([]),
    })
    .default({ objectIds: [], owns: [] }),
  objects: z.array(z.unknown()),
  vaults: z
    .array(
      z.object({
        name: z.string().min(1),
        certificates: z.array(
          z.object({
            name: z.string().min(1),
            tags: z.record(z.string(), z.string()).default({}),
            policy: z.object({ issuerName: z.string().default("Self") }).default({ issuerName: "Self" }),
            versions: z.array(versionShape).default([]),
            renewalPending: z.boolean().default(false),
            // Accepted from older snapshots and ignored: renewal is decided from Key Vault's data.
            nearExpiryEvent: z.boolean().default(false),
          }),
        ),
      }),
    )
    .default([]),
  state: z
    .record(
      z.string(),
      z.object({
        verifiedVersion: z.string().optional(),
        verifiedAt: z.string().optional(),
        attempts: z.number().int().min(0).default(0),
        nextAttemptAt: z.string().optional(),
        attached: z
          .array(z.string().regex(/^[0-9A-Fa-f]{40}$/, "a 40-digit hex SHA-1 thumbprint"))
          .optional(),
        // Provenance: versions Rollover issued, and versions a person adopted. A record with
        // neither predates provenance (its verified version counts as adopted).
        issuedVersions: z.array(z.string().min(1)).optional(),
        adoptedVersions: z.array(z.string().min(1)).optional(),
      }),
    )
    .default({}),
  /** "<object id>/<key id>": when Rollover's sweep first saw the credential. */
  firstSeen: z.record(z.string(), z.string()).default({}),
});

/** Issuers Key Vault completes on its own; others (`Unknown`) need a manual CSR merge. */
export function isRenewableIssuer(issuerName: string): boolean {
  return issuerName.toLowerCase() !== "unknown";
}

/**
 * A key credential's thumbprint (upper-case hex SHA-1 of the certificate's DER), computed from
 * its `key` (base64 DER). Never taken from `customKeyIdentifier`: Graph lets any writer set that
 * to any value (api-reference/v1.0/resources/keycredential.md). Undefined when the key is not
 * there (Graph returns it only for a single object read with `$select=keyCredentials`).
 */
export function thumbprintOfKey(key: unknown): string | undefined {
  if (typeof key !== "string" || key.length === 0) return undefined;
  const der = Buffer.from(key, "base64");
  if (der.length === 0) return undefined;
  return createHash("sha1").update(der).digest("hex").toUpperCase();
}

export function stateKey(vaultName: string, certificateName: string): string {
  return `${vaultName}/${certificateName}`.toLowerCase();
}

/** Parses a snapshot; throws `SnapshotError` only when its overall shape is wrong. */
export function parseSnapshot(json: unknown): TenantSnapshot {
  const top = snapshotShape.safeParse(json);
  if (!top.success) {
    throw new SnapshotError(top.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`));
  }
  const s = top.data;
  const issues: SnapshotIssue[] = [];
  const problems: string[] = [];
  const targets: Target[] = [];
  s.objects.forEach((raw, index) => {
    const o = objectShape.safeParse(raw);
    if (!o.success) {
      issues.push({
        reason: Reason.UnknownTargetType,
        message: `objects[${index}] is not a directory object: ${o.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      });
      return;
    }
    const obj = o.data;
    const type = targetTypeOfOdata(obj["@odata.type"] ?? "#microsoft.graph.application");
    if (!type) {
      issues.push({
        reason: Reason.UnknownTargetType,
        objectId: obj.id,
        message: `object ${obj.id} has type ${obj["@odata.type"]}; expected application, agentIdentityBlueprint or servicePrincipal`,
      });
      return;
    }
    const keyCredentials: KeyCredential[] = [];
    for (const k of obj.keyCredentials) {
      const dates = credentialDates(k, obj.id, issues);
      if (!dates) continue;
      // The certificate's own thumbprint: from `key` when the snapshot carries it, else the
      // snapshot's `thumbprint` field (computed from the key by whoever wrote the snapshot).
      const thumbprint =
        thumbprintOfKey(k.key) ??
        (typeof k.thumbprint === "string" && /^[0-9A-Fa-f]{40}$/.test(k.thumbprint)
          ? k.thumbprint.toUpperCase()
          : undefined);
      keyCredentials.push({
        keyId: k.keyId.toLowerCase(),
        displayName: k.displayName ?? null,
        type: typeof k.type === "string" ? k.type : "AsymmetricX509Cert",
        usage: typeof k.usage === "string" ? k.usage : "Verify",
        ...dates,
        ...(thumbprint ? { thumbprint } : {}),
      });
    }
    const passwordCredentials: PasswordCredential[] = [];
    for (const p of obj.passwordCredentials) {
      const dates = credentialDates(p, obj.id, issues);
      if (!dates) continue;
      passwordCredentials.push({
        keyId: p.keyId.toLowerCase(),
        displayName: p.displayName ?? null,
        hint: typeof p.hint === "string" ? p.hint : null,
        ...dates,
      });
    }
    targets.push({
      tenantId: typeof obj.tenantId === "string" ? obj.tenantId : s.tenantId,
      id: obj.id.toLowerCase(),
      appId: obj.appId.toLowerCase(),
      displayName: obj.displayName,
      type,
      keyCredentials,
      passwordCredentials,
    });
  });
  const certificates: SnapshotCertificate[] = [];
  for (const vault of s.vaults) {
    for (const c of vault.certificates) {
      const versions: CertificateVersion[] = [];
      for (const v of c.versions) {
        const notBefore = parseInstant(v.notBefore);
        const expires = parseInstant(v.expires);
        const created = v.created === undefined ? notBefore : parseInstant(v.created);
        if (
          notBefore === undefined ||
          expires === undefined ||
          created === undefined ||
          expires <= notBefore
        ) {
          issues.push({
            reason: Reason.InvalidCredentialDates,
            certificate: `${vault.name}/${c.name}`,
            message: `version ${v.version} of ${vault.name}/${c.name} has malformed dates or expires before it starts`,
          });
          continue;
        }
        versions.push({
          version: v.version,
          thumbprint: v.thumbprint.toUpperCase(),
          notBefore,
          expires,
          created,
          enabled: v.enabled,
        });
      }
      certificates.push({
        vaultName: vault.name,
        name: c.name,
        tags: c.tags,
        binding: bindingFromTags(vault.name, c.name, c.tags),
        policy: { issuerName: c.policy.issuerName, renewable: isRenewableIssuer(c.policy.issuerName) },
        versions,
        renewalPending: c.renewalPending,
        nearExpiryEvent: c.nearExpiryEvent,
      });
    }
  }
  const state = new Map<string, StateRecord>();
  for (const [key, r] of Object.entries(s.state)) {
    const verifiedAt = r.verifiedAt === undefined ? undefined : parseInstant(r.verifiedAt);
    const nextAttemptAt = r.nextAttemptAt === undefined ? undefined : parseInstant(r.nextAttemptAt);
    if (
      (r.verifiedAt !== undefined && verifiedAt === undefined) ||
      (r.nextAttemptAt !== undefined && nextAttemptAt === undefined)
    ) {
      problems.push(`state.${key}: malformed date`);
      continue;
    }
    const provenance =
      r.issuedVersions || r.adoptedVersions
        ? {
            provenance: {
              issued: (r.issuedVersions ?? []).map((version) => ({ version, requestId: "", at: 0 })),
              adopted: (r.adoptedVersions ?? []).map((version) => ({ version, by: "snapshot", at: 0 })),
            },
          }
        : {};
    state.set(key.toLowerCase(), {
      attempts: r.attempts,
      ...(r.verifiedVersion ? { verifiedVersion: r.verifiedVersion } : {}),
      ...(verifiedAt !== undefined ? { verifiedAt } : {}),
      ...(nextAttemptAt !== undefined ? { nextAttemptAt } : {}),
      ...(r.attached ? { attached: r.attached.map((x) => x.toUpperCase()) } : {}),
      ...provenance,
    });
  }
  const firstSeen = new Map<string, EpochMs>();
  for (const [key, at] of Object.entries(s.firstSeen)) {
    const [objectId, keyId, ...rest] = key.split("/");
    const when = parseInstant(at);
    if (!objectId || !keyId || rest.length > 0 || when === undefined) {
      problems.push(`firstSeen.${key}: expected "<object id>/<key id>": "<ISO 8601 timestamp>"`);
      continue;
    }
    firstSeen.set(firstSeenKey(objectId, keyId), when);
  }
  let now: EpochMs | undefined;
  if (s.now !== undefined) {
    now = parseInstant(s.now);
    if (now === undefined) problems.push(`now: "${s.now}" is not an ISO 8601 timestamp`);
  }
  if (problems.length > 0) throw new SnapshotError(problems);
  return {
    tenantId: s.tenantId,
    ...(now !== undefined ? { now } : {}),
    selfIds: s.rollover.objectIds.map((x) => x.toLowerCase()),
    owned: s.rollover.owns.map((x) => x.toLowerCase()),
    targets,
    certificates,
    state,
    firstSeen,
    issues,
  };
}

function credentialDates(
  c: { keyId: string; startDateTime: unknown; endDateTime: unknown },
  objectId: string,
  issues: SnapshotIssue[],
): { start: EpochMs; end: EpochMs } | undefined {
  const start = parseInstant(c.startDateTime);
  const end = parseInstant(c.endDateTime);
  if (start === undefined || end === undefined) {
    issues.push({
      reason: Reason.InvalidCredentialDates,
      objectId,
      keyId: c.keyId,
      message: `credential ${c.keyId} on ${objectId} has a malformed startDateTime or endDateTime`,
    });
    return undefined;
  }
  if (end <= start) {
    issues.push({
      reason: Reason.InvalidCredentialDates,
      objectId,
      keyId: c.keyId,
      message: `credential ${c.keyId} on ${objectId} ends before it starts`,
    });
    return undefined;
  }
  return { start, end };
}
