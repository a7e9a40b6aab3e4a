/**
 * What `keyVaultEvents` does with one event. Every path is safe to run twice and in any order:
 * the engine observes Key Vault and Graph before it acts.
 *
 * An event is a hint, never a command: it only wakes the reconcile of the binding it names, and
 * whether to renew, attach or retire is decided from Key Vault's and Graph's own data (a forged
 * near-expiry event for a fresh version renews nothing).
 *
 * - near expiry / expired / new version → reconcile the named binding;
 * - a vault not on the allow list → acknowledged, nothing changed, audited `eventRejected`;
 * - `data.Id` or `data.VaultName` naming another vault than `topic`/`source` → refused, nothing
 *   changed, audited `eventRejected` (`EventVaultMismatch`);
 * - an unknown type or a malformed event → acknowledged, audited `eventIgnored`;
 * - a binding another run holds, or a step that failed → thrown, so the platform delivers again.
 */
import type { AuditEvent, AuditSink } from "../audit/events.js";
import type { VaultEdge } from "../azure/keyvault.js";
import { Reason, type ReasonCode } from "../core/reasons.js";
import { oneLine } from "../text.js";
import type { BindingOutcome, BindingRef } from "../rotation/engine.js";
import { EventParseError, parseEvent } from "./parse.js";
import { type KeyVaultEvent, isHandledType } from "./types.js";
import { certificateNameOf, isAllowedSource, resolveEventVault } from "./vaults.js";

/** Reason codes of the event edge (entries of the registry in shared/core/reasons.ts). */
export const EventReason = {
  VaultNotAllowed: Reason.VaultNotAllowed,
  VaultNotConfigured: Reason.VaultNotConfigured,
  UnhandledEventType: Reason.UnhandledEventType,
  MalformedEvent: Reason.MalformedEvent,
  NotACertificate: Reason.NotACertificate,
  EventVaultMismatch: Reason.EventVaultMismatch,
} as const;

export interface EventDeps {
  vaults: ReadonlyMap<string, VaultEdge>;
  allowedVaults: readonly string[];
  audit: AuditSink;
  reconcile(ref: BindingRef): Promise<BindingOutcome>;
}

export type EventDisposition =
  | { status: "handled"; event: KeyVaultEvent; outcome: BindingOutcome }
  | { status: "rejected" | "ignored"; reason: ReasonCode; message: string; event?: KeyVaultEvent };

/** Thrown when delivering the event again can succeed (the platform retries). */
export class RetryableEventError extends Error {
  override name = "RetryableEventError";
}

function eventFields(e: KeyVaultEvent): Partial<AuditEvent> {
  return {
    ...(e.data.vaultName ? { vaultName: e.data.vaultName } : {}),
    ...(certificateNameOf(e) ? { certificateName: certificateNameOf(e) } : {}),
    ...(e.data.version ? { certificateVersion: e.data.version } : {}),
    ...(typeof e.data.nbf === "number" ? { notBefore: isoSeconds(e.data.nbf) } : {}),
    ...(typeof e.data.exp === "number" ? { notAfter: isoSeconds(e.data.exp) } : {}),
  };
}

function isoSeconds(s: number): string | undefined {
  const d = new Date(s * 1000);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export async function handleKeyVaultEvent(raw: unknown, deps: EventDeps): Promise<EventDisposition> {
  let event: KeyVaultEvent;
  try {
    event = parseEvent(raw);
  } catch (e) {
    if (!(e instanceof EventParseError)) throw e;
    const message = `malformed event acknowledged: ${oneLine(e.message)}`;
    deps.audit.emit({
      action: "eventIgnored",
      outcome: "skipped",
      reason: EventReason.MalformedEvent,
      message,
    });
    return { status: "ignored", reason: EventReason.MalformedEvent, message };
  }
  const fields = eventFields(event);
  const label = `${oneLine(event.type, 120)} ${event.id.slice(0, 64)}`;
  if (!isHandledType(event.type)) {
    const message = `event ${label} ignored: not a certificate event Rollover handles`;
    deps.audit.emit({
      ...fields,
      action: "eventIgnored",
      outcome: "skipped",
      reason: EventReason.UnhandledEventType,
      message,
    });
    return { status: "ignored", reason: EventReason.UnhandledEventType, message, event };
  }
  if (!isAllowedSource(event.source, deps.allowedVaults)) {
    const message = `event ${label} from ${oneLine(event.source || "(no source)", 300)} rejected: not in ROLLOVER_ALLOWED_VAULTS`;
    deps.audit.emit({
      ...fields,
      action: "eventRejected",
      outcome: "skipped",
      reason: EventReason.VaultNotAllowed,
      message,
    });
    return { status: "rejected", reason: EventReason.VaultNotAllowed, message, event };
  }
  if (event.data.objectType && event.data.objectType.toLowerCase() !== "certificate") {
    const message = `event ${label} ignored: object type ${oneLine(event.data.objectType, 40)}`;
    deps.audit.emit({
      ...fields,
      action: "eventIgnored",
      outcome: "skipped",
      reason: EventReason.NotACertificate,
      message,
    });
    return { status: "ignored", reason: EventReason.NotACertificate, message, event };
  }
  const resolved = resolveEventVault(event, deps.vaults);
  if (!resolved.ok && resolved.reason === EventReason.EventVaultMismatch) {
    const message = `event ${label} refused: ${oneLine(resolved.message, 300)}`;
    deps.audit.emit({
      ...fields,
      action: "eventRejected",
      outcome: "failed",
      reason: EventReason.EventVaultMismatch,
      message,
    });
    return { status: "rejected", reason: EventReason.EventVaultMismatch, message, event };
  }
  const vault = resolved.ok ? resolved.vault : undefined;
  const certificateName = certificateNameOf(event);
  if (!vault || !certificateName) {
    const message = !vault
      ? `event ${label} rejected: its vault is allowed but not in ROLLOVER_VAULT_URLS`
      : `event ${label} ignored: no certificate name`;
    const reason = !vault ? EventReason.VaultNotConfigured : EventReason.MalformedEvent;
    deps.audit.emit({
      ...fields,
      action: !vault ? "eventRejected" : "eventIgnored",
      outcome: "skipped",
      reason,
      message,
    });
    return { status: !vault ? "rejected" : "ignored", reason, message, event };
  }
  // The event only says "look at this binding now"; its type and dates decide nothing.
  const outcome = await deps.reconcile({ vaultName: vault.name, certificateName });
  if (outcome.result === "locked") {
    // The run holding the lease observes Key Vault itself; delivering again looks once more.
    throw new RetryableEventError(`${certificateName}: another run holds the binding; deliver again`);
  }
  if (outcome.result === "failed") {
    throw new RetryableEventError(`${certificateName}: ${oneLine(outcome.message)}`);
  }
  return { status: "handled", event, outcome };
}
