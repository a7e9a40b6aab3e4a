/**
 * When is a certificate version due for renewal?
 *
 * Renew at the earliest of: Key Vault's near-expiry event for this version, the configured
 * fraction of the lifetime (default 2/3, as cert-manager does), or `renewBeforeDays` before
 * expiry. An expired version is always due. A version younger than `bufferMs` is never due
 * (unless expired): that hysteresis keeps a run near a boundary — or a version with a very short
 * life — from renewing again and again.
 */
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

export function renewalDue(
  version: { notBefore: EpochMs; expires: EpochMs; created: EpochMs },
  now: EpochMs,
  policy: RenewalPolicy,
  nearExpiryEvent = false,
): RenewalDecision {
  const { at, reason } = renewAt(version, policy);
  if (now >= version.expires) return { due: true, renewAt: at, reason: Reason.RenewExpired };
  if (now < version.notBefore) return { due: false, renewAt: at, reason: Reason.NotYetValid };
  const age = now - Math.max(version.created, version.notBefore);
  if (age < policy.bufferMs) return { due: false, renewAt: at, reason: Reason.RecentlyRenewed };
  if (nearExpiryEvent) return { due: true, renewAt: at, reason: Reason.RenewNearExpiryEvent };
  if (now >= at) return { due: true, renewAt: at, reason };
  return { due: false, renewAt: at, reason: Reason.UpToDate };
}
