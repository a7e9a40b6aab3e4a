/**
 * Back-off after a failed step: exponential, capped, with optional jitter passed in.
 *
 *   delay(attempt) = min(maxMs, baseMs × 2^(attempt−1)) × (1 − jitter × random)
 *
 * attempt 1 → 1 min, 2 → 2 min, 3 → 4 min … capped at 6 h with the defaults. `random` is a
 * parameter (0 ≤ random < 1) so the function stays pure; pass 0 for no jitter.
 */
import type { EpochMs } from "./time.js";

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** 0..1: how much of the delay may be shaved off at random, to spread retries. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, maxMs: 6 * 3600_000, jitter: 0.2 };

export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = 0): number {
  if (attempt <= 0) return 0;
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, 52));
  const r = Math.min(Math.max(random, 0), 0.999999);
  return Math.round(exp * (1 - policy.jitter * r));
}

export function nextAttemptAt(
  now: EpochMs,
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random = 0,
): EpochMs {
  return now + backoffDelay(attempt, policy, random);
}
