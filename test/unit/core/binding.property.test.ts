import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BindingObservation,
  type BindingPolicy,
  type CertificateVersion,
  DAY,
  HOUR,
  isValidAt,
  operationMatters,
  planBinding,
  renewalDue,
  sortVersions,
} from "../../../shared/core/index.js";
import { keyCredential, NOW, now } from "./arbitraries.js";

const RUNS = { numRuns: 1000 };
const TARGET = "00000001-0000-4000-8000-000000000001";

const version = fc
  .record({
    n: fc.integer({ min: 0, max: 0xffff }),
    thumb: fc.integer({ min: 0, max: 7 }),
    start: fc.integer({ min: -700, max: 300 }),
    days: fc.integer({ min: 1, max: 800 }),
    enabled: fc.boolean(),
  })
  .map(
    (v): CertificateVersion => ({
      version: v.n.toString(16).padStart(4, "0"),
      thumbprint: v.thumb.toString(16).toUpperCase().repeat(40),
      notBefore: NOW + v.start * DAY,
      expires: NOW + (v.start + v.days) * DAY,
      created: NOW + v.start * DAY,
      enabled: v.enabled,
    }),
  );

const observation: fc.Arbitrary<BindingObservation> = fc
  .record({
    versions: fc.uniqueArray(version, { minLength: 1, maxLength: 3, selector: (v) => v.version }),
    keys: fc.array(keyCredential, { maxLength: 3 }),
    attached: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    verifiedNewest: fc.boolean(),
    verified: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
    verifiedAgo: fc.integer({ min: -10, max: 400 }),
    pending: fc.boolean(),
    // Key Vault's near-expiry window (a lifetime action's days before expiry), or its default.
    kvWindow: fc.option(fc.integer({ min: 1, max: 90 }), { nil: undefined }),
    // Rollover issued every version (else: the record predates provenance, the migration rule).
    issued: fc.boolean(),
    mode: fc.constantFrom("auto" as const, "self" as const, "managed" as const),
    renewable: fc.boolean(),
  })
  .map(
    ({
      versions,
      keys,
      attached,
      verifiedNewest,
      verified,
      verifiedAgo,
      pending,
      kvWindow,
      issued,
      mode,
      renewable,
    }) => ({
      binding: {
        vaultName: "kv",
        certificateName: "c",
        targetId: TARGET,
        targetType: "application" as const,
        mode,
      },
      versions,
      policy: {
        issuerName: renewable ? "Self" : "Unknown",
        renewable,
        ...(kvWindow ? { lifetimeTriggers: [{ daysBeforeExpiry: kvWindow }] } : {}),
      },
      target: {
        tenantId: "t",
        id: TARGET,
        appId: "app",
        displayName: "app",
        type: "application" as const,
        // Keys of some versions are on the target, as after earlier attaches; plus unrelated keys.
        keyCredentials: [
          ...keys,
          ...versions
            .filter((_, i) => attached[i])
            .map((v) => ({
              keyId: `key-${v.version}`,
              thumbprint: v.thumbprint,
              start: v.notBefore,
              end: v.expires,
              type: "AsymmetricX509Cert",
              usage: "Verify",
            })),
        ],
        passwordCredentials: [],
      },
      state: {
        ...(issued
          ? {
              provenance: {
                issued: versions.map((v) => ({ version: v.version, requestId: "r", at: 0 })),
                adopted: [],
              },
            }
          : {}),
        ...(verifiedNewest
          ? {
              attempts: 0,
              verifiedVersion: sortVersions(versions)[0]!.version,
              verifiedAt: NOW - verifiedAgo * DAY,
            }
          : verified === undefined || verified >= versions.length
            ? { attempts: 0 }
            : {
                attempts: 0,
                verifiedVersion: versions[verified]!.version,
                verifiedAt: NOW - verifiedAgo * DAY,
              }),
      },
      renewalPending: pending,
      selfIds: [],
    }),
  );

const policy: fc.Arbitrary<BindingPolicy> = fc.record({
  renewal: fc.record({
    renewBeforeDays: fc.integer({ min: 1, max: 60 }),
    lifetimeFraction: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
    bufferMs: fc.integer({ min: 0, max: 48 }).map((h) => h * HOUR),
  }),
  graceMs: fc.integer({ min: 0, max: 30 }).map((d) => d * DAY),
  managedModeAllowed: fc.boolean(),
});

describe("binding plan, stated as laws", () => {
  it("generates every kind of step (the laws below are not vacuous)", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        seen.add(planBinding(obs, pol, at).step.kind);
      }),
      { numRuns: 3000, seed: 42 },
    );
    expect([...seen].sort()).toEqual(["attach", "none", "refuse", "renew", "retire", "verify", "wait"]);
  });

  it("never asks for a second renewal within the buffer after the last ask, whatever the versions say", () => {
    fc.assert(
      fc.property(observation, policy, now, fc.integer({ min: 0, max: 48 }), (obs, pol, at, hoursAgo) => {
        const askedAt = at - hoursAgo * HOUR;
        const plan = planBinding({ ...obs, state: { ...obs.state, renewRequestedAt: askedAt } }, pol, at);
        if (at - askedAt < pol.renewal.bufferMs) expect(plan.step.kind).not.toBe("renew");
        return true;
      }),
      RUNS,
    );
  });

  it("attaches only a version Rollover issued or a person adopted (never an imported one)", () => {
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        const plan = planBinding(obs, pol, at);
        if (plan.step.kind !== "attach") return true;
        const v = plan.step.version;
        const p = obs.state.provenance;
        const trusted = p
          ? p.issued.some((i) => i.version === v) || p.adopted.some((a) => a.version === v)
          : obs.state.verifiedVersion === v;
        expect(trusted).toBe(true);
        return true;
      }),
      RUNS,
    );
  });

  it("retires only a previous key, only after verification of the current version and the grace window, never the last valid one", () => {
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        const plan = planBinding(obs, pol, at);
        if (plan.step.kind !== "retire") return true;
        const s = plan.step;
        const current = plan.current!;
        const t = obs.target!;
        expect(s.thumbprint).not.toBe(current.thumbprint);
        expect(obs.state.verifiedVersion).toBe(current.version);
        expect(at).toBeGreaterThanOrEqual(obs.state.verifiedAt! + pol.graceMs);
        expect(t.keyCredentials.some((k) => k.keyId === s.keyId)).toBe(true);
        const left = t.keyCredentials.filter((k) => k.keyId !== s.keyId && isValidAt(k, at));
        expect(left.length).toBeGreaterThan(0);
        return true;
      }),
      RUNS,
    );
  });

  it("renews only the newest version, and only when it is due", () => {
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        const plan = planBinding(obs, pol, at);
        if (plan.step.kind !== "renew") return true;
        const newest = sortVersions(obs.versions).find((v) => v.enabled && v.expires > v.notBefore)!;
        expect(plan.step.version).toBe(newest.version);
        expect(renewalDue(newest, at, pol.renewal, obs.policy.lifetimeTriggers).due).toBe(true);
        expect(obs.renewalPending).toBe(false);
        expect(obs.policy.renewable).toBe(true);
        return true;
      }),
      RUNS,
    );
  });

  it("signs self-mode proofs only with a key that is on the target, valid, and not the one removed", () => {
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        const s = planBinding(obs, pol, at).step;
        if ((s.kind !== "attach" && s.kind !== "retire") || s.mode !== "self") return true;
        const signer = obs.versions.find((v) => v.version === s.signWith)!;
        expect(signer).toBeDefined();
        expect(obs.binding.mode).not.toBe("managed");
        const onTarget = obs.target!.keyCredentials.filter(
          (k) => k.thumbprint === signer.thumbprint && isValidAt(k, at),
        );
        expect(onTarget.length).toBeGreaterThan(0);
        if (s.kind === "retire") expect(signer.thumbprint).not.toBe(s.thumbprint);
        return true;
      }),
      RUNS,
    );
  });

  it("uses managed mode only when allowed or asked for, and self mode never when the binding says managed", () => {
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        const s = planBinding(obs, pol, at).step;
        if (s.kind !== "attach" && s.kind !== "retire") return true;
        if (s.mode === "managed") expect(pol.managedModeAllowed || obs.binding.mode === "managed").toBe(true);
        if (obs.binding.mode === "managed") expect(s.mode).toBe("managed");
        return true;
      }),
      RUNS,
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        expect(planBinding(obs, pol, at)).toEqual(planBinding(structuredClone(obs), pol, at));
      }),
      RUNS,
    );
  });

  it("is idempotent: after a step's effect, the same step is not planned again", () => {
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, at) => {
        const plan = planBinding(obs, pol, at);
        const s = plan.step;
        let next: BindingObservation | undefined;
        if (s.kind === "renew") {
          // Key Vault issued a new version now, valid for a year.
          const v: CertificateVersion = {
            version: "new1",
            thumbprint: "F".repeat(40),
            notBefore: at,
            expires: at + 365 * DAY,
            created: at,
            enabled: true,
          };
          next = {
            ...obs,
            versions: [...obs.versions, v],
            state: { ...obs.state, renewRequestedAt: at },
          };
          const again = planBinding(next, pol, at).step;
          expect(again.kind === "renew").toBe(false);
        } else if (s.kind === "attach") {
          const v = obs.versions.find((x) => x.version === s.version)!;
          next = {
            ...obs,
            target: {
              ...obs.target!,
              keyCredentials: [
                ...obs.target!.keyCredentials,
                {
                  keyId: "new-key",
                  thumbprint: v.thumbprint,
                  start: v.notBefore,
                  end: v.expires,
                  type: "AsymmetricX509Cert",
                  usage: "Verify",
                },
              ],
            },
          };
          const again = planBinding(next, pol, at).step;
          expect(again.kind === "attach" && again.version === s.version).toBe(false);
        } else if (s.kind === "verify") {
          next = { ...obs, state: { ...obs.state, verifiedVersion: s.version, verifiedAt: at } };
          const again = planBinding(next, pol, at).step;
          expect(again.kind === "verify").toBe(false);
        } else if (s.kind === "retire") {
          next = {
            ...obs,
            target: {
              ...obs.target!,
              keyCredentials: obs.target!.keyCredentials.filter((k) => k.keyId !== s.keyId),
            },
          };
          const again = planBinding(next, pol, at).step;
          expect(again.kind === "retire" && again.keyId === s.keyId).toBe(false);
        }
        return true;
      }),
      RUNS,
    );
  });

  it("reads Key Vault's pending operation whenever it can change the plan", () => {
    let skipped = 0;
    let read = 0;
    fc.assert(
      fc.property(observation, policy, now, (obs, pol, t) => {
        if (operationMatters(obs, pol, t)) {
          read += 1;
          return;
        }
        skipped += 1;
        const idle = planBinding({ ...obs, renewalPending: false }, pol, t);
        const busy = planBinding({ ...obs, renewalPending: true }, pol, t);
        expect(busy).toEqual(idle);
      }),
      RUNS,
    );
    // Both sides happen: the law is not vacuous.
    expect(skipped).toBeGreaterThan(0);
    expect(read).toBeGreaterThan(0);
  });
});
