import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { currentThumbprints, isValidAt, planSweep, Reason } from "../../../shared/core/index.js";
import { applyRemovals, now, sweepPolicy, tenant } from "./arbitraries.js";

const RUNS = { numRuns: 1000 };

describe("sweep guardrails, stated as laws", () => {
  it("exercises removals and every guardrail (the laws below are not vacuous)", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const plan = planSweep(input, policy, at);
        for (const r of plan.removals) seen.add(r.reason);
        for (const h of plan.held) seen.add(h.guard);
      }),
      { numRuns: 3000, seed: 7 },
    );
    expect([...seen].sort()).toEqual(
      [
        Reason.GuardBindingCurrentKey,
        Reason.GuardDenyList,
        Reason.GuardGraceWindow,
        Reason.GuardLastValidCredential,
        Reason.GuardNotAllowListed,
        Reason.GuardRemovalCap,
        Reason.GuardSelfIdentity,
        Reason.RemoveExpired,
        Reason.RemoveOrphaned,
      ].sort(),
    );
  });

  it("never removes the last valid credential of a target", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const plan = planSweep(input, policy, at);
        const after = applyRemovals(input.targets, plan.removals);
        return input.targets.every((before, i) => {
          const validBefore = [...before.keyCredentials, ...before.passwordCredentials].filter((c) =>
            isValidAt(c, at),
          ).length;
          const t = after[i]!;
          const validAfter = [...t.keyCredentials, ...t.passwordCredentials].filter((c) =>
            isValidAt(c, at),
          ).length;
          return validBefore === 0 || validAfter >= 1;
        });
      }),
      RUNS,
    );
  });

  it("never removes a credential younger than the grace window", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) =>
        planSweep(input, policy, at).removals.every((r) => at - r.finding.start >= policy.graceMs),
      ),
      RUNS,
    );
  });

  it("never removes a key a binding currently uses", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const { current } = currentThumbprints(input.bindings);
        return planSweep(input, policy, at).removals.every(
          (r) => r.finding.thumbprint === undefined || !current.has(r.finding.thumbprint),
        );
      }),
      RUNS,
    );
  });

  it("never removes more than the cap", () => {
    fc.assert(
      fc.property(
        tenant,
        sweepPolicy,
        now,
        (input, policy, at) => planSweep(input, policy, at).removals.length <= policy.maxRemovals,
      ),
      RUNS,
    );
  });

  it("never touches Rollover's own identity, the deny list, or targets off the allow list", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) =>
        planSweep(input, policy, at).removals.every(
          (r) =>
            !input.selfIds.includes(r.finding.targetId) &&
            !policy.denyList.includes(r.finding.targetId) &&
            (policy.allowList.length === 0 || policy.allowList.includes(r.finding.targetId)),
        ),
      ),
      RUNS,
    );
  });

  it("is deterministic, whatever the order of the input", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, fc.integer(), (input, policy, at, seed) => {
        const a = planSweep(input, policy, at);
        const shuffled = { ...input, targets: shuffle(input.targets, seed) };
        expect(planSweep(input, policy, at)).toEqual(a);
        expect(planSweep(shuffled, policy, at)).toEqual(a);
      }),
      RUNS,
    );
  });

  it("is idempotent: after applying a plan, a new plan removes only what the cap deferred", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const first = planSweep(input, policy, at);
        const after = { ...input, targets: applyRemovals(input.targets, first.removals) };
        const second = planSweep(after, policy, at);
        const deferred = new Set(
          first.held
            .filter((h) => h.guard === Reason.GuardRemovalCap)
            .map((h) => `${h.finding.targetId}/${h.finding.keyId}`),
        );
        const heldByGuards = new Set(
          first.held
            .filter((h) => h.guard !== Reason.GuardRemovalCap)
            .map((h) => `${h.finding.targetId}/${h.finding.keyId}`),
        );
        // Nothing new appears, nothing a guard held is removed now (except the last-valid guard, which can
        // only relax when the cap had deferred a sibling — never, since removals only lower validity).
        for (const r of second.removals) {
          const k = `${r.finding.targetId}/${r.finding.keyId}`;
          expect(deferred.has(k) || heldByGuards.has(k)).toBe(true);
          expect(heldByGuards.has(k) && !deferred.has(k)).toBe(false);
        }
        if (deferred.size === 0) expect(second.removals).toEqual([]);
      }),
      RUNS,
    );
  });
});

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
