/**
 * The audit record: one row of the custom Log Analytics table, built from an `AuditEvent` and
 * the run's context, chained by hash. `AUDIT_COLUMNS` is the table's schema (infra/ builds the
 * table and the DCR stream from it; docs/audit.md describes every column).
 *
 * Canonical form. `Hash` is SHA-256 (hex) over `JSON.stringify(["rollover-audit/1", v1, … vN])`
 * where v1…vN are the values of every column but `Hash`, in `AUDIT_COLUMNS` order, normalised
 * the way Log Analytics hands them back: a missing string is `""`, a datetime is ISO 8601 with
 * milliseconds (`toISOString()`) or `""`, a long is a number, a boolean is `true`/`false`. A
 * record read back from the workspace therefore hashes to the same value as the one sent.
 * An empty `ReasonClass` (records written before that column existed) is left out of the form,
 * so older chains still verify.
 */
import { createHash, randomUUID } from "node:crypto";
import { isReasonCode, REASON_CLASS, type ReasonClass } from "../core/reasons.js";
import type { AuditEvent, Outcome, Trigger } from "./events.js";

export type ColumnType = "string" | "datetime" | "long" | "boolean";

/** The custom table's columns, in canonical order. `TenantId` is reserved by Log Analytics, hence `TargetTenantId`. */
export const AUDIT_COLUMNS = [
  {
    name: "TimeGenerated",
    type: "datetime",
    description: "When Rollover made the decision or change (UTC).",
  },
  { name: "RecordId", type: "string", description: "Unique id of the record; the same on every resend." },
  { name: "RunId", type: "string", description: "The run (function invocation or CLI run) that wrote it." },
  { name: "Writer", type: "string", description: "The hash chain (one per writer) the record belongs to." },
  { name: "Sequence", type: "long", description: "Position in the writer's chain, from 1, without gaps." },
  {
    name: "PrevHash",
    type: "string",
    description: "`Hash` of the previous record of the chain (64 zeros for the first).",
  },
  { name: "Trigger", type: "string", description: "eventGrid, timer, alert or cli." },
  {
    name: "Action",
    type: "string",
    description: "renew, attach, verify, retire, sweepFinding, sweepRemoval, …",
  },
  { name: "Outcome", type: "string", description: "succeeded, failed, skipped or planned." },
  { name: "Reason", type: "string", description: "Stable reason code (docs/reason-codes.md)." },
  {
    name: "ReasonClass",
    type: "string",
    description:
      "What the outcome asks of people: fine, transient (Rollover retries) or needsPerson (an alert tells people).",
  },
  {
    name: "Message",
    type: "string",
    description: "One line for people (redacted, at most 4096 characters).",
  },
  { name: "DryRun", type: "boolean", description: "True when nothing was changed on purpose." },
  { name: "TargetTenantId", type: "string", description: "Tenant of the target (the event's `tenantId`)." },
  {
    name: "TargetType",
    type: "string",
    description: "application, agentIdentityBlueprint or servicePrincipal.",
  },
  { name: "TargetObjectId", type: "string", description: "Object id of the target." },
  { name: "TargetAppId", type: "string", description: "Application (client) id of the target." },
  { name: "TargetDisplayName", type: "string", description: "Display name of the target." },
  { name: "VaultName", type: "string", description: "Key Vault holding the certificate." },
  { name: "CertificateName", type: "string", description: "Key Vault certificate name." },
  { name: "CertificateVersion", type: "string", description: "Key Vault certificate version." },
  { name: "KeyId", type: "string", description: "keyId of the key credential in Entra." },
  { name: "Thumbprint", type: "string", description: "SHA-1 thumbprint of the certificate (hex)." },
  { name: "NotBefore", type: "datetime", description: "Start of the credential's validity." },
  { name: "NotAfter", type: "datetime", description: "End of the credential's validity." },
  { name: "Actor", type: "string", description: "Rollover's principal (object id of its identity)." },
  { name: "Hash", type: "string", description: "SHA-256 (hex) of the canonical form of the record." },
] as const satisfies ReadonlyArray<{ name: string; type: ColumnType; description: string }>;

export type AuditColumnName = (typeof AUDIT_COLUMNS)[number]["name"];

/** One row as sent to the Logs Ingestion API. */
export interface AuditRecord {
  TimeGenerated: string;
  RecordId: string;
  RunId: string;
  Writer: string;
  Sequence: number;
  PrevHash: string;
  Trigger: Trigger;
  Action: string;
  Outcome: Outcome;
  Reason: string;
  ReasonClass: ReasonClass | null;
  Message: string;
  DryRun: boolean;
  TargetTenantId: string | null;
  TargetType: string | null;
  TargetObjectId: string | null;
  TargetAppId: string | null;
  TargetDisplayName: string | null;
  VaultName: string | null;
  CertificateName: string | null;
  CertificateVersion: string | null;
  KeyId: string | null;
  Thumbprint: string | null;
  NotBefore: string | null;
  NotAfter: string | null;
  Actor: string;
  Hash: string;
}

/** The hash a chain starts from. */
export const GENESIS_HASH = "0".repeat(64);
export const CANONICAL_VERSION = "rollover-audit/1";
export const MAX_MESSAGE_LENGTH = 4096;
export const MAX_FIELD_LENGTH = 512;

/** What the writer knows about the run, the chain position and the moment. */
export interface RecordContext {
  runId: string;
  trigger: Trigger;
  /** Rollover's principal. */
  actor: string;
  /** The chain's name. */
  writer: string;
  sequence: number;
  prevHash: string;
  /** Default: now. */
  time?: Date | string;
  /** Default: a new UUID. Keep it to resend the same record. */
  recordId?: string;
  /** Used when the event does not say. */
  dryRun?: boolean;
}

function clip(value: string | undefined | null, max: number): string | null {
  if (value === undefined || value === null || value === "") return null;
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

/** ISO 8601 with milliseconds, as Log Analytics returns datetimes; invalid or empty → null. */
export function normalizeDate(value: string | Date | number | undefined | null): string | null {
  if (value === undefined || value === null || value === "") return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Builds the record for one event, with its hash. */
export function toRecord(
  event: AuditEvent,
  context: RecordContext,
  limits: { maxMessageLength?: number } = {},
): AuditRecord {
  const time = normalizeDate(context.time ?? new Date()) ?? new Date().toISOString();
  const unhashed: Omit<AuditRecord, "Hash"> = {
    TimeGenerated: time,
    RecordId: context.recordId ?? randomUUID(),
    RunId: context.runId,
    Writer: context.writer,
    Sequence: context.sequence,
    PrevHash: context.prevHash,
    Trigger: context.trigger,
    Action: event.action,
    Outcome: event.outcome,
    Reason: clip(event.reason, MAX_FIELD_LENGTH) ?? "",
    // A code outside the registry (an older writer) is for a person to look at.
    ReasonClass: isReasonCode(event.reason) ? REASON_CLASS[event.reason] : "needsPerson",
    Message: clip(event.message, limits.maxMessageLength ?? MAX_MESSAGE_LENGTH) ?? "",
    DryRun: event.dryRun ?? context.dryRun ?? false,
    TargetTenantId: clip(event.tenantId, MAX_FIELD_LENGTH),
    TargetType: clip(event.targetType, MAX_FIELD_LENGTH),
    TargetObjectId: clip(event.targetObjectId, MAX_FIELD_LENGTH),
    TargetAppId: clip(event.targetAppId, MAX_FIELD_LENGTH),
    TargetDisplayName: clip(event.targetDisplayName, MAX_FIELD_LENGTH),
    VaultName: clip(event.vaultName, MAX_FIELD_LENGTH),
    CertificateName: clip(event.certificateName, MAX_FIELD_LENGTH),
    CertificateVersion: clip(event.certificateVersion, MAX_FIELD_LENGTH),
    KeyId: clip(event.keyId, MAX_FIELD_LENGTH),
    Thumbprint: clip(event.thumbprint, MAX_FIELD_LENGTH),
    NotBefore: normalizeDate(event.notBefore),
    NotAfter: normalizeDate(event.notAfter),
    Actor: context.actor,
  };
  return { ...unhashed, Hash: hashRecord(unhashed) };
}

/** A record as read back: any object with the table's columns (missing ones count as empty). */
export type RecordLike = Readonly<Record<string, unknown>> | AuditRecord;

function canonicalValue(type: ColumnType, value: unknown): string | number | boolean {
  switch (type) {
    case "string":
      return value === undefined || value === null ? "" : String(value);
    case "datetime":
      return normalizeDate(value as string | Date | null | undefined) ?? "";
    case "long": {
      const n = typeof value === "number" ? value : Number(value);
      return Number.isFinite(n) ? n : "";
    }
    case "boolean":
      return value === true || value === "true" || value === "True" || value === 1;
  }
}

/** The exact text that `Hash` covers. */
export function canonicalForm(input: RecordLike | AuditRecord): string {
  const record = input as Readonly<Record<string, unknown>>;
  const values: Array<string | number | boolean> = [CANONICAL_VERSION];
  for (const column of AUDIT_COLUMNS) {
    if (column.name === "Hash") continue;
    const value = canonicalValue(column.type, record[column.name]);
    // Records written before `ReasonClass` existed carry none; their hash does not cover it.
    if (column.name === "ReasonClass" && value === "") continue;
    values.push(value);
  }
  return JSON.stringify(values);
}

export function hashRecord(record: RecordLike | AuditRecord): string {
  return createHash("sha256").update(canonicalForm(record), "utf8").digest("hex");
}

/** Brings a row read back (from the sandbox or a workspace) to the record's shape and types. */
export function normalizeRecord(row: RecordLike): AuditRecord {
  const out: Record<string, unknown> = {};
  for (const column of AUDIT_COLUMNS) {
    const v = row[column.name];
    switch (column.type) {
      case "datetime":
        out[column.name] = normalizeDate(v as string | Date | null | undefined);
        break;
      case "long":
        out[column.name] = v === undefined || v === null || v === "" ? Number.NaN : Number(v);
        break;
      case "boolean":
        out[column.name] = canonicalValue("boolean", v);
        break;
      default:
        out[column.name] = v === undefined || v === null ? (column.name === "Hash" ? "" : null) : String(v);
    }
  }
  return out as unknown as AuditRecord;
}
