/**
 * The removal budget every run shares — timer runs, fanned-out pages, remediation sweeps and the
 * CLI, on any number of instances: at most `perHour` removals in a clock hour (UTC) and `perDay`
 * in a UTC day. The state lives in one Table entity updated under its ETag (shared/sweep/budget.ts);
 * this is the pure step: given the stored state, how many of `want` removals may go now.
 */
import type { EpochMs } from "./time.js";

export interface BudgetLimits {
  perHour: number;
  perDay: number;
}

export interface BudgetState {
  /** The hour (ms since epoch / 3,600,000) `hourUsed` counts in. */
  hour: number;
  hourUsed: number;
  /** The day (ms since epoch / 86,400,000) `dayUsed` counts in. */
  day: number;
  dayUsed: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Takes up to `want` removals from the budget at `now`; returns what was granted and the new state. */
export function takeBudget(
  state: BudgetState | undefined,
  want: number,
  now: EpochMs,
  limits: BudgetLimits,
): { granted: number; next: BudgetState } {
  const hour = Math.floor(now / HOUR_MS);
  const day = Math.floor(now / DAY_MS);
  // A run whose clock is behind the stored window (another instance is already in a later hour)
  // gets nothing: its removals would count against a window that is no longer recorded.
  if (state && (state.hour > hour || state.day > day)) return { granted: 0, next: state };
  // A window that has passed starts empty.
  const hourUsed = state && state.hour === hour ? state.hourUsed : 0;
  const dayUsed = state && state.day === day ? state.dayUsed : 0;
  const granted = Math.max(0, Math.min(want, limits.perHour - hourUsed, limits.perDay - dayUsed));
  return { granted, next: { hour, hourUsed: hourUsed + granted, day, dayUsed: dayUsed + granted } };
}
