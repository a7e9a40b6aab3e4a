/**
 * When is a certificate version due for renewal?
 *
 * Renew at the earliest of: Key Vault's own near-expiry window for this version (the triggers of
 * the certificate policy's lifetime actions, or 30 days before expiry), the configured
 * fraction of the lifetime (default 2/3, as cert-manager does), or `renewBeforeDays` before
 * expiry. An expired version is always due. A version younger than `bufferMs` is never due
 * (unless expired): that hysteresis keeps a run near a boundary — or a version with a very short
 * life — from renewing again and again.
 */
import type { LifetimeTrigger } from "./model.js";
import type { ReasonCode } from "./reasons.js";
import { Reason } from "./reasons.js";
import { DAY, type EpochMs } from "./time.js";

export interface RenewalPolicy {
  renewBeforeDays: number;
  /** 0 < fraction < 1 */
  lifetimeFraction: number;
  bufferMs: number;
}

export const DEFAULT_RENEWAL_POLICY: RenewalPolicy = {
  renewBeforeDays: 30,
  lifetimeFraction: 2 / 3,
  bufferMs: 24 * 3600_000,
};

export interface RenewalDecision {
  due: boolean;
  /** The instant the version becomes (or became) due by lifetime rules. */
  renewAt: EpochMs;
  reason: ReasonCode;
}

export function renewAt(
  version: { notBefore: EpochMs; expires: EpochMs },
  policy: RenewalPolicy,
): {
  at: EpochMs;
  reason: ReasonCode;
} {
  const lifetime = version.expires - version.notBefore;
  const byFraction = version.notBefore + Math.floor(lifetime * policy.lifetimeFraction);
  const byDays = version.expires - policy.renewBeforeDays * DAY;
  return byFraction <= byDays
    ? { at: byFraction, reason: Reason.RenewLifetimeFraction }
    : { at: byDays, reason: Reason.RenewBeforeExpiryDays };
}

/** Key Vault's default near-expiry notice when a policy has no lifetime action: 30 days before expiry. */
export const KEY_VAULT_NEAR_EXPIRY_DAYS = 30;

/**
 * The instant Key Vault considers the version near expiry: the earliest trigger of the policy's
 * lifetime actions (days before expiry, or a percentage of the lifetime), else 30 days before
 * expiry. Computed from Key Vault's data, never from an event (events can be forged).
 * Source: https://learn.microsoft.com/azure/key-vault/certificates/overview-renew-certificate
 * and the LifetimeAction/Trigger definitions (KeyVault REST spec, certificates.json).
 */
export function nearExpiryAt(
  version: { notBefore: EpochMs; expires: EpochMs },
  triggers: readonly LifetimeTrigger[] | undefined,
): EpochMs {
  const lifetime = version.expires - version.notBefore;
  const points: EpochMs[] = [];
  for (const t of triggers ?? []) {
    if (typeof t.daysBeforeExpiry === "number" && t.daysBeforeExpiry > 0)
      points.push(version.expires - t.daysBeforeExpiry * DAY);
    else if (
      typeof t.lifetimePercentage === "number" &&
      t.lifetimePercentage > 0 &&
      t.lifetimePercentage < 100
    )
      points.push(version.notBefore + Math.floor((lifetime * t.lifetimePercentage) / 100));
  }
  if (points.length === 0) points.push(version.expires - KEY_VAULT_NEAR_EXPIRY_DAYS * DAY);
  return Math.min(...points);
}

export function renewalDue(
  version: { notBefore: EpochMs; expires: EpochMs; created: EpochMs },
  now: EpochMs,
  policy: RenewalPolicy,
  lifetimeTriggers?: readonly LifetimeTrigger[],
): RenewalDecision {
  const { at, reason } = renewAt(version, policy);
  if (now >= version.expires) return { due: true, renewAt: at, reason: Reason.RenewExpired };
  if (now < version.notBefore) return { due: false, renewAt: at, reason: Reason.NotYetValid };
  const age = now - Math.max(version.created, version.notBefore);
  if (age < policy.bufferMs) return { due: false, renewAt: at, reason: Reason.RecentlyRenewed };
  if (now >= at) return { due: true, renewAt: at, reason };
  const kvAt = nearExpiryAt(version, lifetimeTriggers);
  if (now >= kvAt) return { due: true, renewAt: kvAt, reason: Reason.RenewNearExpiryWindow };
  return { due: false, renewAt: at, reason: Reason.UpToDate };
}
