import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BudgetState, takeBudget } from "../../../shared/core/index.js";

const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.parse("2026-06-01T22:00:00Z");

/**
 * The Table entity, modelled: a value and an ETag; a write carries the ETag it read and fails
 * (412) when another write came first, as `updateEntity(…, { etag })` does. A missing entity is
 * created, which fails (409) when another creation came first.
 */
interface Entity {
  state: BudgetState | undefined;
  etag: number;
}

/** A taker: one run or fanned-out page asking the budget for `want` removals at its own clock. */
interface Taker {
  now: number;
  want: number;
}

type Phase = { kind: "read" } | { kind: "write"; read: Entity } | { kind: "done"; granted: number };

function simulate(
  takers: readonly Taker[],
  schedule: readonly number[],
  limits: { perHour: number; perDay: number },
): Array<{ now: number; granted: number }> {
  let table: Entity = { state: undefined, etag: 0 };
  const phases: Phase[] = takers.map(() => ({ kind: "read" }));
  let i = 0;
  // Step takers in the order the schedule gives (then round-robin) until all are done.
  for (let guard = 0; guard < 10_000 && phases.some((p) => p.kind !== "done"); guard++) {
    const pending = phases.flatMap((p, k) => (p.kind === "done" ? [] : [k]));
    const k = pending[(schedule[i++ % Math.max(1, schedule.length)] ?? 0) % pending.length]!;
    const p = phases[k]!;
    const t = takers[k]!;
    if (p.kind === "read") {
      phases[k] = { kind: "write", read: { ...table } };
    } else if (p.kind === "write") {
      const { granted, next } = takeBudget(p.read.state, t.want, t.now, limits);
      if (granted === 0) phases[k] = { kind: "done", granted: 0 };
      else if (table.etag === p.read.etag) {
        table = { state: next, etag: table.etag + 1 };
        phases[k] = { kind: "done", granted };
      } else phases[k] = { kind: "read" }; // 412 / 409: read again
    }
  }
  return takers.map((t, k) => {
    const p = phases[k]!;
    return { now: t.now, granted: p.kind === "done" ? p.granted : 0 };
  });
}

describe("the removal budget, shared by every run", () => {
  it("never grants more than its hourly or daily window, across any interleaving of runs", () => {
    let grantedSomething = false;
    let heldSomething = false;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            // Clocks within 30 hours, across hour and day boundaries, not in order between runs.
            now: fc.integer({ min: 0, max: 30 * 60 }).map((m) => T0 + m * 60_000),
            want: fc.integer({ min: 0, max: 8 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.record({ perHour: fc.integer({ min: 0, max: 10 }), perDay: fc.integer({ min: 0, max: 25 }) }),
        (takers, schedule, limits) => {
          const out = simulate(takers, schedule, limits);
          const byHour = new Map<number, number>();
          const byDay = new Map<number, number>();
          for (const o of out) {
            expect(o.granted).toBeLessThanOrEqual(takers[out.indexOf(o)]!.want);
            byHour.set(Math.floor(o.now / HOUR), (byHour.get(Math.floor(o.now / HOUR)) ?? 0) + o.granted);
            byDay.set(Math.floor(o.now / DAY), (byDay.get(Math.floor(o.now / DAY)) ?? 0) + o.granted);
          }
          if (out.some((o) => o.granted > 0)) grantedSomething = true;
          if (out.some((o, k) => o.granted < takers[k]!.want)) heldSomething = true;
          for (const n of byHour.values()) expect(n).toBeLessThanOrEqual(limits.perHour);
          for (const n of byDay.values()) expect(n).toBeLessThanOrEqual(limits.perDay);
        },
      ),
      { numRuns: 1000 },
    );
    expect(grantedSomething && heldSomething).toBe(true);
  });

  it("a new window starts empty; a run behind the stored window gets nothing", () => {
    const limits = { perHour: 2, perDay: 3 };
    const a = takeBudget(undefined, 5, T0, limits);
    expect(a.granted).toBe(2);
    expect(takeBudget(a.next, 5, T0 + 10 * 60_000, limits).granted).toBe(0);
    const b = takeBudget(a.next, 5, T0 + HOUR, limits);
    expect(b.granted).toBe(1); // the day allows one more
    expect(takeBudget(b.next, 1, T0, limits).granted).toBe(0); // a clock behind the stored hour
    expect(takeBudget(b.next, 5, T0 + 2 * HOUR + 1, limits).granted).toBe(2); // the next day (00:00Z)
  });
});
