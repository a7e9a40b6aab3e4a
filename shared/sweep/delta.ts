/**
 * Incremental sweeps through Graph's `/delta`. A delta link (stored per collection in Table
 * storage, shared/azure/sweep-delta.ts) lets a sweep read only the objects changed since the last
 * one. Expiry is a matter of time, not of change, so a full sweep still runs at least every
 * ROLLOVER_FULL_SWEEP_HOURS: it catches credentials that expired on objects nobody touched.
 *
 *   no delta link yet               → full sweep through /delta (it ends with the first link)
 *   last full sweep too long ago    → full sweep through the plain list ($top=999)
 *   otherwise                       → incremental: follow the delta link
 */
import { firstPageUrl } from "../azure/graph.js";
import type { DeltaState, SweepCollection } from "../azure/sweep-delta.js";

export type SweepKind = "fullDelta" | "full" | "incremental";

/** Where a sweep of one collection starts. Pure. */
export function sweepStart(
  collection: SweepCollection,
  state: DeltaState,
  now: number,
  fullEveryMs: number,
  pageSize = 999,
): { kind: SweepKind; url: string } {
  if (!state.deltaLink) return { kind: "fullDelta", url: firstPageUrl(collection, pageSize, "delta") };
  if (state.lastFullAt === undefined || now - state.lastFullAt >= fullEveryMs) {
    return { kind: "full", url: firstPageUrl(collection, pageSize, "list") };
  }
  return { kind: "incremental", url: state.deltaLink };
}
