import { describe, expect, it } from "vitest";
import type { BindingObservation, BindingPolicy } from "../../../shared/core/binding.js";
import { planBinding } from "../../../shared/core/binding.js";
import { type StatusInput, statusOf } from "../../../shared/core/status.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 27, 12);
const policy: BindingPolicy = {
  renewal: { renewBeforeDays: 30, lifetimeFraction: 2 / 3, bufferMs: DAY },
  graceMs: 3 * DAY,
  managedModeAllowed: false,
};

function observed(name: string, o: { verified?: boolean; oldKey?: boolean } = {}): StatusInput {
  const v1 = {
    version: "v1",
    thumbprint: "AA",
    notBefore: NOW - 300 * DAY,
    expires: NOW + 65 * DAY,
    created: NOW - 300 * DAY,
    enabled: true,
  };
  const v2 = {
    version: "v2",
    thumbprint: "BB",
    notBefore: NOW - DAY,
    expires: NOW + 364 * DAY,
    created: NOW - DAY,
    enabled: true,
  };
  const key = (t: string, v: typeof v1) => ({
    keyId: `k-${t}`,
    type: "AsymmetricX509Cert",
    usage: "Verify",
    start: v.notBefore,
    end: v.expires,
    thumbprint: t,
  });
  const obs: BindingObservation = {
    binding: {
      vaultName: "kv",
      certificateName: name,
      targetId: "t-1",
      targetType: "application",
      mode: "auto",
    },
    versions: [v1, v2],
    policy: { issuerName: "Self", renewable: true },
    target: {
      tenantId: "tn",
      id: "t-1",
      appId: "a-1",
      displayName: name,
      type: "application",
      keyCredentials: [key("BB", v2), ...(o.oldKey ? [key("AA", v1)] : [])],
      passwordCredentials: [],
    },
    state: o.verified ? { attempts: 0, verifiedVersion: "v2", verifiedAt: NOW - DAY } : { attempts: 0 },
    renewalPending: false,
    selfIds: [],
  };
  return { ref: { vaultName: "kv", certificateName: name }, obs, plan: planBinding(obs, policy, NOW) };
}

describe("statusOf", () => {
  it("puts what needs a person first, then retrying, then fine, by certificate name", () => {
    const rows = statusOf(
      [
        observed("b-fine", { verified: true }),
        {
          ref: { vaultName: "kv", certificateName: "z-unreadable" },
          refusal: { reason: "ReadFailed", message: "HTTP 503" },
        },
        {
          ref: { vaultName: "kv", certificateName: "c-locked" },
          refusal: { reason: "Locked", message: "held" },
        },
        {
          ref: { vaultName: "kv", certificateName: "a-tags" },
          refusal: { reason: "BindingTagsInvalid", message: "bad tag" },
        },
      ],
      policy,
    );
    expect(rows.map((r) => [r.certificate, r.next.class])).toEqual([
      ["a-tags", "needsPerson"],
      ["z-unreadable", "needsPerson"],
      ["c-locked", "transient"],
      ["b-fine", "fine"],
    ]);
    expect(rows[1]).toMatchObject({
      needsPerson: true,
      next: { action: "refuse", reason: "ReadFailed", text: "HTTP 503" },
    });
  });

  it("names the current and newest versions, when the key was verified and when the old one retires", () => {
    const [row] = statusOf([observed("svc", { verified: true, oldKey: true })], policy);
    expect(row).toMatchObject({
      certificate: "svc",
      target: { type: "application", id: "t-1", displayName: "svc" },
      phase: "verified",
      current: { version: "v2", expires: NOW + 364 * DAY },
      newest: { version: "v2" },
      verifiedAt: NOW - DAY,
      retiresAt: NOW + 2 * DAY,
      next: { action: "wait", reason: "GraceWindowOpen", class: "fine", until: NOW + 2 * DAY },
      needsPerson: false,
    });
  });

  it("a binding whose step failed shows the error, the attempts and the next attempt", () => {
    const input = observed("svc");
    input.obs!.state = {
      attempts: 3,
      lastError: "HTTP 503 ServiceUnavailable",
      nextAttemptAt: NOW + 240_000,
    };
    const [row] = statusOf([{ ...input, plan: planBinding(input.obs!, policy, NOW) }], policy);
    expect(row).toMatchObject({
      lastError: { message: "HTTP 503 ServiceUnavailable", attempts: 3, nextAttemptAt: NOW + 240_000 },
      next: { action: "wait", reason: "BackingOff", class: "transient" },
    });
  });

  it("an attached but unverified key: current is the attached version, nothing retires yet", () => {
    const [row] = statusOf([observed("svc")], policy);
    expect(row?.current?.version).toBe("v2");
    expect(row?.verifiedAt).toBeUndefined();
    expect(row?.retiresAt).toBeUndefined();
    expect(row?.next).toMatchObject({ action: "verify", reason: "VerifyNewKey" });
  });
});
