/**
 * The trust boundary in the decision core: what Rollover attaches (provenance), how often it
 * renews whatever asked, and when a failing step stops for a person.
 */
import { describe, expect, it } from "vitest";
import {
  type BindingObservation,
  type BindingPolicy,
  DAY,
  HOUR,
  isTrustedVersion,
  markAdopted,
  markIssuedByRollover,
  markRenewalRequested,
  planBinding,
} from "../../../shared/core/index.js";

const NOW = Date.parse("2026-11-27T12:00:00Z");
const TARGET = "00000001-0000-4000-8000-000000000001";
const policy: BindingPolicy = {
  renewal: { renewBeforeDays: 30, lifetimeFraction: 2 / 3, bufferMs: 24 * HOUR },
  graceMs: 72 * HOUR,
  managedModeAllowed: false,
  maxStepFailures: 3,
};
const v = (version: string, thumb: string, startDays: number, days = 365) => ({
  version,
  thumbprint: thumb.repeat(40),
  notBefore: NOW + startDays * DAY,
  expires: NOW + (startDays + days) * DAY,
  created: NOW + startDays * DAY,
  enabled: true,
});
const key = (thumb: string, startDays: number, days = 365) => ({
  keyId: `k-${thumb}`,
  thumbprint: thumb.repeat(40),
  start: NOW + startDays * DAY,
  end: NOW + (startDays + days) * DAY,
  type: "AsymmetricX509Cert",
  usage: "Verify",
});

/** v1 on the target and verified; v2 (newer, not on the target) as given. */
function obs(over: Partial<BindingObservation> = {}): BindingObservation {
  return {
    binding: {
      vaultName: "kv",
      certificateName: "c",
      targetId: TARGET,
      targetType: "application",
      mode: "auto",
    },
    versions: [v("v1", "A", -100), v("v2", "B", -1)],
    policy: { issuerName: "Self", renewable: true },
    target: {
      tenantId: "t",
      id: TARGET,
      appId: "app",
      displayName: "app",
      type: "application",
      keyCredentials: [key("A", -100)],
      passwordCredentials: [],
    },
    state: {
      attempts: 0,
      verifiedVersion: "v1",
      verifiedAt: NOW - 90 * DAY,
      provenance: { issued: [], adopted: [] },
    },
    renewalPending: false,
    selfIds: [],
    ...over,
  };
}

describe("provenance at attach", () => {
  it("a version nobody issued or adopted is refused, needing a person", () => {
    const p = planBinding(obs(), policy, NOW);
    expect(p.step).toMatchObject({ kind: "refuse", reason: "VersionNotIssuedByRollover" });
  });

  it("a version Rollover issued, or a person adopted, is attached", () => {
    const issued = markIssuedByRollover(obs().state, "v2", "req-1", NOW);
    expect(planBinding(obs({ state: issued }), policy, NOW).step.kind).toBe("attach");
    const adopted = markAdopted(obs().state, "v2", "alice@contoso.com oid 1", NOW);
    expect(planBinding(obs({ state: adopted }), policy, NOW).step.kind).toBe("attach");
  });

  it("migration: a record from before provenance trusts the version it verified, nothing newer", () => {
    const legacy = { attempts: 0, verifiedVersion: "v1", verifiedAt: NOW - 90 * DAY };
    expect(isTrustedVersion(legacy, "v1")).toBe(true);
    expect(isTrustedVersion(legacy, "v2")).toBe(false);
    // Recording a renewal keeps the migrated adoption.
    const next = markRenewalRequested(legacy, { requestId: "r", spkiSha256: "ab" }, NOW);
    expect(isTrustedVersion(next, "v1")).toBe(true);
    expect(next.provenance?.pending).toMatchObject({ requestId: "r" });
    expect(isTrustedVersion(markIssuedByRollover(next, "v2", "r", NOW), "v2")).toBe(true);
  });

  it("an issued version whose policy now lets its key be exported is refused; adopted on purpose it is not", () => {
    const issued = markIssuedByRollover(obs().state, "v2", "req-1", NOW);
    const exportable = { issuerName: "Self", renewable: true, exportable: true };
    expect(planBinding(obs({ state: issued, policy: exportable }), policy, NOW).step).toMatchObject({
      kind: "refuse",
      reason: "KeyExportable",
    });
    const adopted = markAdopted(issued, "v2", "alice", NOW);
    expect(planBinding(obs({ state: adopted, policy: exportable }), policy, NOW).step.kind).toBe("attach");
  });
});

describe("renewal is decided from Key Vault's data, at most once per buffer", () => {
  const due = () =>
    obs({
      versions: [v("v1", "A", -300)],
      target: { ...obs().target!, keyCredentials: [key("A", -300)] },
    });

  it("a due version is renewed, but not again within the buffer after Rollover asked", () => {
    expect(planBinding(due(), policy, NOW).step.kind).toBe("renew");
    const asked = { ...due(), state: { ...due().state, renewRequestedAt: NOW - 2 * HOUR } };
    expect(planBinding(asked, policy, NOW).step).toMatchObject({
      kind: "wait",
      reason: "RecentlyRenewed",
      until: NOW + 22 * HOUR,
    });
    expect(planBinding(asked, policy, NOW + 22 * HOUR).step.kind).toBe("renew");
  });

  it("Key Vault's near-expiry window (a lifetime action) makes a version due before 2/3", () => {
    const o = obs({
      versions: [v("v1", "A", -100)],
      policy: { issuerName: "Self", renewable: true, lifetimeTriggers: [{ daysBeforeExpiry: 300 }] },
    });
    expect(planBinding(o, policy, NOW).step).toMatchObject({
      kind: "renew",
      reason: "RenewNearExpiryWindow",
    });
  });
});

describe("a step that keeps failing stops for a person", () => {
  const failing = (attempts: number, over: Partial<BindingObservation["state"]> = {}) =>
    obs({
      state: {
        ...markIssuedByRollover(obs().state, "v2", "r", NOW),
        attempts,
        failedStep: "attach",
        lastError: "attach: HTTP 403",
        ...over,
      },
    });

  it("below the limit the step is tried again (after the back-off)", () => {
    expect(planBinding(failing(2), policy, NOW).step.kind).toBe("attach");
    expect(planBinding(failing(2, { nextAttemptAt: NOW + HOUR }), policy, NOW).step.reason).toBe(
      "BackingOff",
    );
  });

  it("at the limit it is refused with StepFailureLimit, back-off or not", () => {
    for (const o of [failing(3), failing(3, { nextAttemptAt: NOW + HOUR })]) {
      expect(planBinding(o, policy, NOW).step).toMatchObject({ kind: "refuse", reason: "StepFailureLimit" });
    }
  });

  it("another step next (someone fixed it) goes on", () => {
    const fixed = failing(5);
    fixed.target = { ...fixed.target!, keyCredentials: [key("A", -100), key("B", -1)] };
    expect(planBinding(fixed, policy, NOW).step.kind).toBe("verify");
  });
});
