/**
 * What the rest of Rollover tells the audit trail. Every decision and every change is one
 * `AuditEvent`; the writer adds the run's context (run id, trigger, actor), the time, the record
 * id and the hash chain, and delivers it (see docs/audit.md).
 */
import type { ReasonCode } from "../core/reasons.js";

export type Trigger = "eventGrid" | "timer" | "alert" | "cli";
export type Outcome = "succeeded" | "failed" | "skipped" | "planned";

export type AuditAction =
  | "renew"
  | "attach"
  | "verify"
  | "retire"
  | "refuse"
  | "adopt"
  | "wait"
  | "sweepFinding"
  | "sweepRemoval"
  | "sweepDeferred"
  | "eventRejected"
  | "eventIgnored"
  | "alert"
  | "error"
  // Joining and leaving (rollover bind, unbind, migrate-secret), run by a person
  | "bind"
  | "unbind"
  | "migrateSecret"
  | "removeSecret";

export interface AuditEvent {
  action: AuditAction;
  outcome: Outcome;
  /** A stable reason code from the registry (shared/core/reasons.ts); the record adds its class. */
  reason: ReasonCode;
  /** One line for people. Never key material, secret text or tokens. */
  message: string;
  dryRun?: boolean;
  tenantId?: string;
  targetType?: string;
  targetObjectId?: string;
  targetAppId?: string;
  targetDisplayName?: string;
  vaultName?: string;
  certificateName?: string;
  certificateVersion?: string;
  keyId?: string;
  thumbprint?: string;
  /** ISO 8601 */
  notBefore?: string;
  /** ISO 8601 */
  notAfter?: string;
}

/** Where events go. The engine, the sweep and the handlers depend on this interface only. */
export interface AuditSink {
  emit(event: AuditEvent): void;
  /**
   * Sends (or durably stores) what was emitted so far. Callers checkpoint around every change,
   * so a process killed mid-run loses no record of a change it made.
   */
  flush?(): Promise<unknown>;
}

/** A sink that keeps events in memory (tests, dry runs that print instead of sending). */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  emit(event: AuditEvent): void {
    this.events.push(event);
  }
}
