import { describe, expect, it } from "vitest";
import {
  bindingFromTags,
  parseSnapshot,
  planTenant,
  policiesFrom,
  Reason,
  SnapshotError,
} from "../../../shared/core/index.js";
import { loadConfig } from "../../../shared/config.js";

const GUID = "11111111-2222-4333-8444-555555555555";
const policies = policiesFrom(loadConfig({}));

function snapshotWith(objects: unknown[], certificates: unknown[] = []) {
  return { tenantId: "t", now: "2026-06-01T00:00:00Z", objects, vaults: [{ name: "kv", certificates }] };
}

const app = (over: Record<string, unknown>) => ({
  "@odata.type": "#microsoft.graph.application",
  id: GUID,
  appId: GUID,
  displayName: "a",
  keyCredentials: [],
  passwordCredentials: [],
  ...over,
});

const cred = (keyId: string, start: unknown, end: unknown) => ({
  keyId,
  type: "AsymmetricX509Cert",
  usage: "Verify",
  startDateTime: start,
  endDateTime: end,
});

describe("binding tags", () => {
  it("a certificate without rollover-* tags is not a binding", () => {
    expect(bindingFromTags("kv", "c", { owner: "x" })).toBeUndefined();
    expect(bindingFromTags("kv", "c", undefined)).toBeUndefined();
  });
  it("defaults: application, home tenant, auto mode; tag names are case-insensitive", () => {
    expect(bindingFromTags("kv", "c", { "Rollover-Target": GUID.toUpperCase() })).toEqual({
      ok: true,
      binding: {
        vaultName: "kv",
        certificateName: "c",
        targetId: GUID,
        targetType: "application",
        mode: "auto",
      },
    });
  });
  const bad: Array<[string, Record<string, string>, string]> = [
    ["missing target", { "rollover-mode": "self" }, Reason.BindingTagsMissing],
    ["empty target", { "rollover-target": " " }, Reason.BindingTagsMissing],
    ["target not a GUID", { "rollover-target": "payments" }, Reason.BindingTagsInvalid],
    [
      "unknown target type",
      { "rollover-target": GUID, "rollover-target-type": "user" },
      Reason.BindingTagsInvalid,
    ],
    [
      "tenant not a GUID",
      { "rollover-target": GUID, "rollover-tenant": "contoso.com" },
      Reason.BindingTagsInvalid,
    ],
    ["unknown mode", { "rollover-target": GUID, "rollover-mode": "yolo" }, Reason.BindingTagsInvalid],
  ];
  for (const [name, tags, reason] of bad) {
    it(`refuses ${name} with ${reason}`, () => {
      const r = bindingFromTags("kv", "c", tags);
      expect(r?.ok).toBe(false);
      if (r && !r.ok) {
        expect(r.reason).toBe(reason);
        expect(r.message.length).toBeGreaterThan(0);
      }
    });
  }
});

describe("snapshot bad input never crashes", () => {
  it("refuses a snapshot of the wrong shape with a typed error listing the problems", () => {
    expect(() => parseSnapshot({ objects: "nope" })).toThrow(SnapshotError);
    try {
      parseSnapshot({ objects: "nope" });
    } catch (e) {
      expect((e as SnapshotError).problems.join(" ")).toMatch(/tenantId/);
      expect((e as SnapshotError).problems.join(" ")).toMatch(/objects/);
    }
  });

  it("reports malformed dates and end-before-start as findings and plans the rest", () => {
    const s = parseSnapshot(
      snapshotWith([
        app({
          keyCredentials: [
            cred("a", "yesterday", "2027-01-01T00:00:00Z"),
            cred("b", "2027-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            cred("c", 12345, "2027-01-01T00:00:00Z"),
            cred("d", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
          ],
        }),
      ]),
    );
    expect(s.issues.map((i) => [i.reason, i.keyId])).toEqual([
      [Reason.InvalidCredentialDates, "a"],
      [Reason.InvalidCredentialDates, "b"],
      [Reason.InvalidCredentialDates, "c"],
    ]);
    expect(s.targets[0]!.keyCredentials.map((k) => k.keyId)).toEqual(["d"]);
  });

  it("reports an unknown target type and skips the object", () => {
    const s = parseSnapshot(snapshotWith([app({ "@odata.type": "#microsoft.graph.user" })]));
    expect(s.issues[0]?.reason).toBe(Reason.UnknownTargetType);
    expect(s.targets).toEqual([]);
  });

  it("reports duplicate keyIds and never removes either credential", () => {
    const s = parseSnapshot(
      snapshotWith([
        app({
          keyCredentials: [cred("dup", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z")],
          passwordCredentials: [
            { keyId: "dup", startDateTime: "2020-01-01T00:00:00Z", endDateTime: "2021-01-01T00:00:00Z" },
          ],
        }),
      ]),
    );
    const plan = planTenant(s, policies, s.now!);
    expect(plan.sweep.findings.filter((f) => f.reason === Reason.DuplicateKeyId)).toHaveLength(2);
    expect(plan.sweep.removals).toEqual([]);
  });

  it("refuses a binding with missing tags and names the tag", () => {
    const s = parseSnapshot(snapshotWith([], [{ name: "c", tags: { "rollover-mode": "self" } }]));
    const plan = planTenant(s, policies, s.now!);
    expect(plan.bindings[0]?.refusal).toEqual({
      reason: Reason.BindingTagsMissing,
      message: "tag rollover-target is missing or empty",
    });
  });

  it("refuses a binding whose target does not exist", () => {
    const s = parseSnapshot(
      snapshotWith(
        [],
        [
          {
            name: "c",
            tags: { "rollover-target": GUID },
            versions: [
              {
                version: "v1",
                thumbprint: "A".repeat(40),
                notBefore: "2026-01-01T00:00:00Z",
                expires: "2027-01-01T00:00:00Z",
              },
            ],
          },
        ],
      ),
    );
    const plan = planTenant(s, policies, s.now!);
    expect(plan.bindings[0]?.plan?.step).toMatchObject({ kind: "refuse", reason: Reason.TargetNotFound });
  });

  it("refuses a binding that names Rollover's own identity", () => {
    const s = parseSnapshot({
      ...snapshotWith(
        [app({ keyCredentials: [cred("k", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")] })],
        [
          {
            name: "c",
            tags: { "rollover-target": GUID },
            versions: [
              {
                version: "v1",
                thumbprint: "A".repeat(40),
                notBefore: "2026-01-01T00:00:00Z",
                expires: "2027-01-01T00:00:00Z",
              },
            ],
          },
        ],
      ),
      rollover: { objectIds: [GUID] },
    });
    const plan = planTenant(s, policies, s.now!);
    expect(plan.bindings[0]?.plan?.step).toMatchObject({ kind: "refuse", reason: Reason.TargetIsSelf });
  });
});
