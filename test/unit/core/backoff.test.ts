import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_BACKOFF } from "../../../shared/core/index.js";

describe("back-off", () => {
  it("doubles from the base and stops at the cap", () => {
    const p = { baseMs: 1000, maxMs: 10_000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, p))).toEqual([
      0, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it("never exceeds the cap and never goes below (1 - jitter) of the exponential delay", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r) => {
          const d = backoffDelay(attempt, DEFAULT_BACKOFF, r);
          const exp = Math.min(
            DEFAULT_BACKOFF.maxMs,
            DEFAULT_BACKOFF.baseMs * 2 ** Math.min(attempt - 1, 52),
          );
          return d <= DEFAULT_BACKOFF.maxMs && d >= Math.floor(exp * (1 - DEFAULT_BACKOFF.jitter)) - 1;
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("is monotone in the attempt count without jitter", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        (a) =>
          backoffDelay(a + 1, { ...DEFAULT_BACKOFF, jitter: 0 }) >=
          backoffDelay(a, { ...DEFAULT_BACKOFF, jitter: 0 }),
      ),
      { numRuns: 1000 },
    );
  });
});
