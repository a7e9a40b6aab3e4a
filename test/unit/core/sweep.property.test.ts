import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  currentThumbprints,
  firstSeenKey,
  isValidAt,
  planSweep,
  Reason,
  ROLLOVER_MARKER,
} from "../../../shared/core/index.js";
import { applyRemovals, now, sweepPolicy, tenant, withClock } from "./arbitraries.js";

const RUNS = { numRuns: 1000 };

describe("sweep guardrails, stated as laws", () => {
  it("exercises removals and every guardrail (the laws below are not vacuous)", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const plan = planSweep(withClock(input, at), policy, at);
        for (const r of plan.removals) seen.add(r.reason);
        for (const r of plan.removals) seen.add(`path:${r.path?.kind}`);
        for (const h of plan.held) seen.add(h.guard);
        for (const f of plan.findings) {
          if (f.reason === Reason.KeyUnmanaged || f.reason === Reason.KeyOrphaned) seen.add(f.reason);
        }
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
        Reason.RemovalNotPermitted,
        Reason.RemoveExpired,
        Reason.RemoveOrphaned,
        "path:removeKey",
        "path:managed",
        Reason.KeyUnmanaged,
        Reason.KeyOrphaned,
      ].sort(),
    );
  });

  it("never removes the last valid credential of a target", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const plan = planSweep(withClock(input, at), policy, at);
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

  it("never removes a credential Rollover first saw less than the grace window ago", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const x = withClock(input, at);
        return planSweep(x, policy, at).removals.every((r) => {
          const seen = x.firstSeen!.get(firstSeenKey(r.finding.targetId, r.finding.keyId));
          return seen !== undefined && at - seen >= policy.graceMs;
        });
      }),
      RUNS,
    );
  });

  it("never removes a credential in the run that first saw it", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const x = withClock(input, at);
        // The sweep records first sight of every candidate at the page's clock, within this run.
        const firstSightNow = new Map(x.firstSeen);
        for (const t of x.targets)
          for (const c of [...t.keyCredentials, ...t.passwordCredentials]) {
            const k = firstSeenKey(t.id, c.keyId);
            if (!firstSightNow.has(k)) firstSightNow.set(k, at);
          }
        const plan = planSweep({ ...x, firstSeen: firstSightNow }, policy, at);
        return plan.removals.every((r) => {
          const seen = firstSightNow.get(firstSeenKey(r.finding.targetId, r.finding.keyId))!;
          return (
            seen < x.runStartedAt! && x.firstSeen!.has(firstSeenKey(r.finding.targetId, r.finding.keyId))
          );
        });
      }),
      RUNS,
    );
  });

  it("never removes a valid credential Rollover did not attach and no version of its binding backs", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const x = withClock(input, at);
        const { backedByTarget } = currentThumbprints(x.bindings);
        return planSweep(x, policy, at).removals.every((r) => {
          const f = r.finding;
          if (!isValidAt(f, at)) return true;
          if (f.credential !== "key" || f.thumbprint === undefined) return false;
          const t = x.targets.find((y) => y.id === f.targetId)!;
          const key = t.keyCredentials.find((k) => k.keyId === f.keyId)!;
          const attachedHere = x.bindings.some(
            (b) => b.binding.targetId === f.targetId && (b.attached ?? []).includes(f.thumbprint!),
          );
          const backed = backedByTarget.get(f.targetId)?.has(f.thumbprint) === true;
          const marked = (key.displayName ?? "").startsWith(ROLLOVER_MARKER);
          return (attachedHere && marked && !x.protectedThumbprints!.has(f.thumbprint)) || backed;
        });
      }),
      RUNS,
    );
  });

  it("removes only along a path a held permission allows", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const x = withClock(input, at);
        const plan = planSweep(x, policy, at);
        const pathsOk = plan.removals.every((r) => {
          const f = r.finding;
          const t = x.targets.find((y) => y.id === f.targetId)!;
          if (r.path?.kind === "managed") return x.access!.managedMode && x.access!.owned.has(f.targetId);
          if (r.path?.kind !== "removeKey" || f.credential !== "key") return false;
          const p = r.path;
          const b = x.bindings.find(
            (y) => y.binding.certificateName === p.certificateName && y.binding.targetId === f.targetId,
          );
          const v = b?.versions.find((y) => y.version === p.signWith);
          return (
            b !== undefined &&
            b.binding.mode !== "managed" &&
            v !== undefined &&
            isValidAt({ start: v.notBefore, end: v.expires }, at) &&
            t.keyCredentials.some(
              (k) => k.thumbprint === v.thumbprint && k.keyId !== f.keyId && isValidAt(k, at),
            )
          );
        });
        const notPermittedSay = plan.held
          .filter((h) => h.guard === Reason.RemovalNotPermitted)
          .every((h) => (h.allowWith ?? "").length > 0);
        return pathsOk && notPermittedSay;
      }),
      RUNS,
    );
  });

  it("never removes a key a binding currently uses", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const { current } = currentThumbprints(input.bindings);
        return planSweep(withClock(input, at), policy, at).removals.every(
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
        (input, policy, at) =>
          planSweep(withClock(input, at), policy, at).removals.length <= policy.maxRemovals,
      ),
      RUNS,
    );
  });

  it("never touches Rollover's own identity, the deny list, or targets off the allow list", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) =>
        planSweep(withClock(input, at), policy, at).removals.every(
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
        const a = planSweep(withClock(input, at), policy, at);
        const shuffled = { ...input, targets: shuffle(input.targets, seed) };
        expect(planSweep(withClock(input, at), policy, at)).toEqual(a);
        expect(planSweep(withClock(shuffled, at), policy, at)).toEqual(a);
      }),
      RUNS,
    );
  });

  it("is idempotent: after applying a plan, a new plan removes only what the cap deferred", () => {
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const first = planSweep(withClock(input, at), policy, at);
        const after = { ...input, targets: applyRemovals(input.targets, first.removals) };
        const second = planSweep(withClock(after, at), policy, at);
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
