import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  currentThumbprints,
  DAY,
  firstSeenKey,
  type InsightFacts,
  type InsightPolicy,
  insightFindings,
  isValidAt,
  orderFindings,
  planSweep,
  Reason,
  renewalPolicyRefusal,
  runFindings,
  type SweepPolicy,
  type Target,
} from "../../../shared/core/index.js";
import { applyRemovals, NOW, now, sweepPolicy, tenant, withClock } from "./arbitraries.js";

const insight: InsightPolicy = {
  unusedAfterMs: 90 * DAY,
  removeUnused: false,
  highPrivilegePermissions: ["Application.ReadWrite.All", "Directory.ReadWrite.All"],
  maxLifetimeMs: 397 * DAY,
};

function target(over: Partial<Target> = {}): Target {
  return {
    tenantId: "t",
    id: "00000000-0000-0000-0000-0000000000a1",
    appId: "00000000-0000-0000-0000-0000000000b1",
    displayName: "app",
    type: "application",
    keyCredentials: [],
    passwordCredentials: [],
    ...over,
  };
}

const secret = (keyId: string, startDaysAgo: number, lifeDays: number) => ({
  keyId,
  start: NOW - startDaysAgo * DAY,
  end: NOW - startDaysAgo * DAY + lifeDays * DAY,
});
const key = (keyId: string, startDaysAgo: number, lifeDays: number, thumbprint = keyId.toUpperCase()) => ({
  ...secret(keyId, startDaysAgo, lifeDays),
  type: "AsymmetricX509Cert",
  usage: "Verify",
  thumbprint,
});

const reasons = (t: Target, facts: InsightFacts, p = insight) =>
  insightFindings(t, facts, p, NOW).map((f) => [f.reason, f.keyId]);

describe("insight findings", () => {
  it("unused: no sign-in for the threshold; never used: none recorded and older than it", () => {
    const t = target({
      keyCredentials: [key("k-used", 200, 365), key("k-never", 100, 365), key("k-new", 10, 365)],
      passwordCredentials: [secret("s-stale", 300, 730)],
    });
    const facts: InsightFacts = {
      signIns: { available: true, lastSignIn: { "k-used": NOW - 5 * DAY, "s-stale": NOW - 120 * DAY } },
    };
    expect(reasons(t, facts)).toEqual([
      [Reason.CredentialNeverUsed, "k-never"],
      [Reason.CredentialUnused, "s-stale"],
    ]);
    // Exactly at the threshold counts as unused; a day less does not.
    const edge = { signIns: { available: true as const, lastSignIn: { "k-used": NOW - 90 * DAY } } };
    expect(reasons(target({ keyCredentials: [key("k-used", 200, 365)] }), edge)).toEqual([
      [Reason.CredentialUnused, "k-used"],
    ]);
    const recent = { signIns: { available: true as const, lastSignIn: { "k-used": NOW - 89 * DAY } } };
    expect(reasons(target({ keyCredentials: [key("k-used", 200, 365)] }), recent)).toEqual([]);
  });

  it("expired credentials are not reported as unused (CredentialExpired covers them)", () => {
    const t = target({ keyCredentials: [key("k-old", 500, 365)] });
    expect(reasons(t, { signIns: { available: true, lastSignIn: {} } })).toEqual([]);
  });

  it("without sign-in data: no unused findings, one run finding", () => {
    const t = target({ keyCredentials: [key("k", 200, 365)] });
    const facts: InsightFacts = { signIns: { available: false, detail: "needs AuditLog.Read.All" } };
    expect(reasons(t, facts)).toEqual([]);
    expect(runFindings(facts)).toEqual([
      { reason: Reason.SignInDataUnavailable, message: "needs AuditLog.Read.All" },
    ]);
    expect(runFindings({ signIns: { available: true, lastSignIn: {} } })).toEqual([]);
  });

  it("high privilege: a secret, or a credential longer-lived than policy, on a powerful identity", () => {
    const t = target({
      keyCredentials: [key("k-short", 10, 180), key("k-long", 10, 730)],
      passwordCredentials: [secret("s", 10, 180)],
    });
    const privileged: InsightFacts = {
      privileges: {
        available: true,
        rolesByAppId: { [t.appId]: ["Application.ReadWrite.All", "User.Read.All"] },
      },
    };
    expect(reasons(t, privileged)).toEqual([
      [Reason.HighPrivilegeCredential, "k-long"],
      [Reason.HighPrivilegeCredential, "s"],
    ]);
    const harmless: InsightFacts = {
      privileges: { available: true, rolesByAppId: { [t.appId]: ["User.Read.All"] } },
    };
    expect(reasons(t, harmless)).toEqual([]);
    // The app management policy's lifetime counts too, when shorter than the sweep's.
    const limited: InsightFacts = {
      ...privileged,
      policies: {
        available: true,
        applications: { keyLifetimeMs: 90 * DAY },
        servicePrincipals: {},
        byObjectId: {},
      },
    };
    expect(reasons(t, limited).filter(([r]) => r === Reason.HighPrivilegeCredential)).toEqual([
      [Reason.HighPrivilegeCredential, "k-short"],
      [Reason.HighPrivilegeCredential, "k-long"],
      [Reason.HighPrivilegeCredential, "s"],
    ]);
  });

  it("policy: secrets where passwordAddition or passwordLifetime restrictions apply; an app's own policy wins", () => {
    const t = target({ passwordCredentials: [secret("s-long", 10, 365), secret("s-short", 10, 30)] });
    const lifetime: InsightFacts = {
      policies: {
        available: true,
        applications: { passwordLifetimeMs: 90 * DAY },
        servicePrincipals: {},
        byObjectId: {},
      },
    };
    expect(reasons(t, lifetime)).toEqual([[Reason.SecretRestrictedByPolicy, "s-long"]]);
    const own: InsightFacts = {
      policies: {
        available: true,
        applications: { passwordLifetimeMs: 90 * DAY },
        servicePrincipals: {},
        byObjectId: { [t.id]: { passwordAddition: true } },
      },
    };
    expect(reasons(t, own)).toEqual([
      [Reason.SecretRestrictedByPolicy, "s-long"],
      [Reason.SecretRestrictedByPolicy, "s-short"],
    ]);
    const sp = target({ type: "servicePrincipal", passwordCredentials: [secret("s-long", 10, 365)] });
    expect(reasons(sp, lifetime)).toEqual([]);
    expect(runFindings({ policies: { available: false, detail: "needs Policy.Read.All" } })).toEqual([
      { reason: Reason.PolicyDataUnavailable, message: "needs Policy.Read.All" },
    ]);
  });

  it("orders HighPrivilegeCredential first and keeps the rest in order", () => {
    const fs = [
      { reason: Reason.CredentialExpired, n: 1 },
      { reason: Reason.HighPrivilegeCredential, n: 2 },
      { reason: Reason.CredentialUnused, n: 3 },
      { reason: Reason.HighPrivilegeCredential, n: 4 },
    ];
    expect(orderFindings(fs).map((f) => f.n)).toEqual([2, 4, 1, 3]);
  });

  it("renewal refusal: a Key Vault validity longer than the asymmetricKeyLifetime restriction", () => {
    expect(renewalPolicyRefusal(12, 180 * DAY, NOW)).toMatch(
      /12 months.*at most 180 days.*validityInMonths to 5/,
    );
    expect(renewalPolicyRefusal(5, 180 * DAY, NOW)).toBeUndefined();
    expect(renewalPolicyRefusal(12, undefined, NOW)).toBeUndefined();
    expect(renewalPolicyRefusal(undefined, 30 * DAY, NOW)).toBeUndefined();
    // Twelve calendar months from 2026-06-01 are 365 days; Key Vault backdates by ten minutes, so an
    // exact P365D limit refuses them (as Graph would) and P366D takes them.
    expect(renewalPolicyRefusal(12, 365 * DAY, NOW)).toMatch(/validityInMonths to 11/);
    expect(renewalPolicyRefusal(12, 366 * DAY, NOW)).toBeUndefined();
    // From 2027-06-01, twelve months cross 29 February 2028: 366 days.
    expect(renewalPolicyRefusal(12, 366 * DAY, Date.parse("2027-06-01T00:00:00Z"))).toBeDefined();
    expect(renewalPolicyRefusal(1, 20 * DAY, NOW)).toMatch(/less than a month/);
  });
});

describe("the sweep with insight", () => {
  const unusedPolicy = (p: SweepPolicy): SweepPolicy => ({
    ...p,
    insight: { ...insight, removeUnused: true },
  });
  /** Sign-in facts for a generated tenant: some credentials used recently, some long ago, some never. */
  const withSignIns = tenant.chain((input) => {
    const ids = input.targets.flatMap((t) =>
      [...t.keyCredentials, ...t.passwordCredentials].map((c) => c.keyId),
    );
    return fc
      .array(fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }), {
        minLength: ids.length,
        maxLength: ids.length,
      })
      .map((ages) => {
        const lastSignIn: Record<string, number> = {};
        ids.forEach((id, i) => {
          const a = ages[i];
          if (a !== undefined) lastSignIn[id] = NOW - a * DAY;
        });
        return { ...input, insight: { signIns: { available: true as const, lastSignIn } } };
      });
  });

  it("removes unused credentials only when asked, and never past a guardrail", () => {
    let removedUnused = 0;
    fc.assert(
      fc.property(withSignIns, sweepPolicy, now, (input, policy, at) => {
        const off = planSweep(withClock(input, at), { ...policy, insight }, at);
        expect(off.removals.some((r) => r.reason === Reason.RemoveUnused)).toBe(false);
        const clocked = withClock(input, at);
        const plan = planSweep(clocked, unusedPolicy(policy), at);
        removedUnused += plan.removals.filter((r) => r.reason === Reason.RemoveUnused).length;
        const { current } = currentThumbprints(input.bindings);
        const after = applyRemovals(input.targets, plan.removals);
        const keys = plan.removals.map((r) => `${r.finding.targetId}|${r.finding.keyId}`);
        expect(new Set(keys).size).toBe(keys.length);
        expect(plan.removals.length).toBeLessThanOrEqual(policy.maxRemovals);
        for (const r of plan.removals) {
          if (r.finding.thumbprint !== undefined) expect(current.has(r.finding.thumbprint)).toBe(false);
          // The grace window runs from when Rollover first saw the credential.
          const seen = clocked.firstSeen?.get(firstSeenKey(r.finding.targetId, r.finding.keyId));
          expect(seen).toBeDefined();
          expect(at - (seen as number)).toBeGreaterThanOrEqual(policy.graceMs);
        }
        input.targets.forEach((before, i) => {
          const valid = (t: Target) =>
            [...t.keyCredentials, ...t.passwordCredentials].filter((c) => isValidAt(c, at)).length;
          if (valid(before) > 0) expect(valid(after[i]!)).toBeGreaterThanOrEqual(1);
        });
      }),
      { numRuns: 1000, seed: 11 },
    );
    expect(removedUnused).toBeGreaterThan(0);
  });
});

describe("insight findings, stated as laws", () => {
  const roles = fc.subarray([
    "Application.ReadWrite.All",
    "Directory.ReadWrite.All",
    "User.Read.All",
    "Mail.Send",
  ]);
  const facts = tenant.chain((input) =>
    fc
      .record({
        ages: fc.array(fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }), { maxLength: 40 }),
        held: roles,
        signIns: fc.boolean(),
      })
      .map(({ ages, held, signIns }) => {
        const ids = input.targets.flatMap((t) =>
          [...t.keyCredentials, ...t.passwordCredentials].map((c) => c.keyId),
        );
        const lastSignIn: Record<string, number> = {};
        ids.forEach((id, i) => {
          const a = ages[i % Math.max(1, ages.length)];
          if (a !== undefined) lastSignIn[id] = NOW - a * DAY;
        });
        const rolesByAppId = Object.fromEntries(input.targets.map((t) => [t.appId.toLowerCase(), held]));
        const f: InsightFacts = {
          signIns: signIns ? { available: true, lastSignIn } : { available: false, detail: "no" },
          privileges: { available: true, rolesByAppId },
        };
        return { input, f, held };
      }),
  );

  it("unused findings only on valid credentials, only with sign-in data, never for one used within the threshold", () => {
    let seen = 0;
    fc.assert(
      fc.property(facts, now, ({ input, f }, at) => {
        for (const t of input.targets)
          for (const x of insightFindings(t, f, insight, at)) {
            if (x.reason !== Reason.CredentialUnused && x.reason !== Reason.CredentialNeverUsed) continue;
            seen += 1;
            expect(f.signIns?.available).toBe(true);
            expect(x.start <= at && at < x.end).toBe(true);
            const last = f.signIns?.available ? f.signIns.lastSignIn[x.keyId] : undefined;
            if (last !== undefined) expect(at - last).toBeGreaterThanOrEqual(insight.unusedAfterMs);
          }
      }),
      { numRuns: 500, seed: 5 },
    );
    expect(seen).toBeGreaterThan(0);
  });

  it("HighPrivilegeCredential only where a listed permission is held, on a valid secret or a long-lived credential", () => {
    let seen = 0;
    fc.assert(
      fc.property(facts, now, ({ input, f, held }, at) => {
        const powerful = held.some((r) => insight.highPrivilegePermissions.includes(r));
        for (const t of input.targets)
          for (const x of insightFindings(t, f, insight, at)) {
            if (x.reason !== Reason.HighPrivilegeCredential) continue;
            seen += 1;
            expect(powerful).toBe(true);
            expect(x.start <= at && at < x.end).toBe(true);
            expect(x.credential === "secret" || x.end - x.start > insight.maxLifetimeMs).toBe(true);
          }
      }),
      { numRuns: 500, seed: 9 },
    );
    expect(seen).toBeGreaterThan(0);
  });
});
