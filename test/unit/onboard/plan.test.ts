/** Joining and leaving, decided: bind's checks and plan, unbind's sign-in guard, migration state. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CertificateVersion, Target } from "../../../shared/core/model.js";
import {
  CERTIFICATE_NAME,
  defaultCertificateName,
  migrationState,
  OnboardInputError,
  parseBindInput,
  pickTarget,
  planBind,
  planUnbind,
  secretsToRemove,
  VERIFY_SIGN_IN_MARGIN_MS,
  type VaultCertificate,
} from "../../../shared/onboard/plan.js";
import { planSweep, Reason } from "../../../shared/core/index.js";
import { keyCredential, NOW, now, passwordCredential, sweepPolicy, tenant } from "../core/arbitraries.js";

const DAY = 86_400_000;
const HOME = "72f988bf-0000-4000-8000-00000000a11c";
const T1 = "A".repeat(40);
const T2 = "B".repeat(40);

function target(over: Partial<Target> = {}): Target {
  return {
    tenantId: HOME,
    id: "a1000000-0000-4000-8000-000000000006",
    appId: "b1000000-0000-4000-8000-000000000006",
    displayName: "inventory-api",
    type: "application",
    keyCredentials: [],
    passwordCredentials: [],
    ...over,
  };
}

function fieldOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof OnboardInputError) return e.field;
    throw e;
  }
  return undefined;
}

const request = parseBindInput({ target: "inventory-api" });
const cert = (over: Partial<VaultCertificate> = {}): VaultCertificate => ({
  name: "other",
  thumbprint: T2,
  notBefore: NOW - DAY,
  expires: NOW + 300 * DAY,
  enabled: true,
  ...over,
});

describe("parseBindInput", () => {
  it("fills in the defaults: 12 months, RSA 2048, no mode", () => {
    expect(request).toEqual({ target: "inventory-api", validityMonths: 12, keyType: "RSA", keySize: 2048 });
  });

  it.each([
    [{ name: "1abc" }, "--name"],
    [{ name: "a".repeat(128) }, "--name"],
    [{ name: "has_underscore" }, "--name"],
    [{ validityMonths: "0" }, "--validity-months"],
    [{ validityMonths: "12.5" }, "--validity-months"],
    [{ validityMonths: "1201" }, "--validity-months"],
    [{ keySize: "1024" }, "--key-size"],
    [{ keyType: "EC" }, "--key-type"],
    [{ mode: "auto" }, "--mode"],
    [{ type: "user" }, "--type"],
    [{ tenant: "contoso" }, "--tenant"],
    [{ clientId: "x" }, "--client-id"],
    [{ target: "  " }, "<target>"],
  ])("refuses %j, naming %s", (over, field) => {
    expect(fieldOf(() => parseBindInput({ target: "t", ...over }))).toBe(field);
  });
});

describe("defaultCertificateName", () => {
  it("is always a name Key Vault accepts", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.uuid(), (displayName, appId) => {
        expect(defaultCertificateName({ displayName, appId })).toMatch(CERTIFICATE_NAME);
      }),
    );
  });

  it("reads like the display name", () => {
    expect(defaultCertificateName({ displayName: "Payments API (prod)", appId: "b1" })).toBe(
      "payments-api-prod",
    );
  });
});

describe("pickTarget", () => {
  it("takes exactly one match; none or several are bad input that names the matches", () => {
    const a = target();
    const b = target({ id: "a2000000-0000-4000-8000-000000000006" });
    expect(pickTarget("x", [a])).toBe(a);
    expect(fieldOf(() => pickTarget("x", []))).toBe("<target>");
    expect(() => pickTarget("x", [a, b])).toThrow(b.id);
  });
});

describe("planBind", () => {
  const base = {
    request,
    target: target(),
    vaultName: "kv",
    homeTenantId: HOME,
    certificates: [],
    selfIds: [],
    now: NOW,
  };

  it("creates, tags and attaches as the person when the target trusts nothing in the vault", () => {
    const p = planBind(base);
    expect(p).toMatchObject({
      kind: "bind",
      certificateName: "inventory-api",
      create: true,
      attachAs: { kind: "operator" },
      tags: { "rollover-target": base.target.id, "rollover-target-type": "application" },
    });
  });

  it("attaches as the target itself where it already trusts a valid certificate of the vault", () => {
    const t = target({
      keyCredentials: [
        {
          keyId: "k",
          thumbprint: T2,
          type: "AsymmetricX509Cert",
          usage: "Verify",
          start: NOW - DAY,
          end: NOW + DAY,
        },
      ],
    });
    expect(planBind({ ...base, target: t, certificates: [cert()] })).toMatchObject({
      attachAs: { kind: "target", signWith: { name: "other" } },
    });
    // An expired trust does not count.
    expect(planBind({ ...base, target: t, certificates: [cert({ expires: NOW - 1 })] })).toMatchObject({
      attachAs: { kind: "operator" },
    });
  });

  it("an existing binding whose key is on the target changes nothing; without its key it is finished", () => {
    const binding = {
      vaultName: "kv",
      certificateName: "inventory-api",
      targetId: base.target.id,
      targetType: "application" as const,
      mode: "auto" as const,
    };
    const mine = cert({ name: "inventory-api", thumbprint: T1, binding });
    const onTarget = target({
      keyCredentials: [
        {
          keyId: "k",
          thumbprint: T1,
          type: "AsymmetricX509Cert",
          usage: "Verify",
          start: NOW - DAY,
          end: NOW + DAY,
        },
      ],
    });
    expect(planBind({ ...base, target: onTarget, certificates: [mine] }).kind).toBe("alreadyBound");
    expect(planBind({ ...base, certificates: [mine] })).toMatchObject({ kind: "bind", create: false });
  });

  it("refuses a name another certificate holds, Rollover's own identity, and a validity the policy forbids", () => {
    expect(fieldOf(() => planBind({ ...base, certificates: [cert({ name: "inventory-api" })] }))).toBe(
      "--name",
    );
    expect(fieldOf(() => planBind({ ...base, selfIds: [base.target.appId] }))).toBe("<target>");
    expect(fieldOf(() => planBind({ ...base, maxCertificateLifetimeDays: 180 }))).toBe("--validity-months");
  });

  it("tags a target in another tenant with its tenant and client id", () => {
    const req = parseBindInput({ target: "x", tenant: "3c6f1c27-0000-4000-8000-00000000fab1" });
    const p = planBind({ ...base, request: req });
    expect(p.kind === "bind" && p.tags).toMatchObject({
      "rollover-tenant": "3c6f1c27-0000-4000-8000-00000000fab1",
      "rollover-client-id": base.target.appId,
    });
  });
});

describe("planUnbind", () => {
  const v = (thumbprint: string, created: number): CertificateVersion => ({
    version: thumbprint.slice(0, 4),
    thumbprint,
    notBefore: NOW - 10 * DAY,
    expires: NOW + 300 * DAY,
    created,
    enabled: true,
  });
  const key = {
    keyId: "k1",
    thumbprint: T1,
    type: "AsymmetricX509Cert",
    usage: "Verify",
    start: NOW - DAY,
    end: NOW + DAY,
  };
  const binding = {
    vaultName: "kv",
    certificateName: "c",
    targetId: "t",
    targetType: "application" as const,
    mode: "auto" as const,
  };
  const base = {
    binding,
    versions: [v(T1, 1), v(T2, 2)],
    target: target({ keyCredentials: [key] }),
    force: false,
    now: NOW,
  };

  it("refuses keys that signed in recently, and unreadable sign-ins, unless forced", () => {
    expect(
      fieldOf(() => planUnbind({ ...base, signIns: { available: true, lastSignIn: { k1: NOW - DAY } } })),
    ).toBe("--force");
    expect(fieldOf(() => planUnbind({ ...base, signIns: { available: false, detail: "403" } }))).toBe(
      "--force",
    );
    expect(planUnbind({ ...base, force: true, signIns: { available: false, detail: "403" } }).keys).toEqual([
      key,
    ]);
    expect(
      planUnbind({ ...base, signIns: { available: true, lastSignIn: { k1: NOW - 40 * DAY } } }).keys,
    ).toEqual([key]);
  });

  it("removes as the target with a valid key of the binding, else as the person; versions oldest first", () => {
    const p = planUnbind({ ...base, force: true, signIns: { available: true, lastSignIn: {} } });
    expect(p.removeAs).toMatchObject({ kind: "target", signWith: { thumbprint: T1 } });
    expect(p.versions.map((x) => x.thumbprint)).toEqual([T1, T2]);
    const expired = { ...key, end: NOW - 1 };
    const q = planUnbind({
      ...base,
      target: target({ keyCredentials: [expired] }),
      force: true,
      signIns: { available: true, lastSignIn: {} },
    });
    expect(q.removeAs.kind).toBe("operator");
  });

  it("never lists a key no version of the binding backs", () => {
    fc.assert(
      fc.property(fc.array(keyCredential, { maxLength: 6 }), (keys) => {
        const p = planUnbind({
          ...base,
          target: target({ keyCredentials: keys }),
          force: true,
          signIns: { available: false, detail: "-" },
        });
        for (const k of p.keys) expect([T1, T2]).toContain(k.thumbprint);
      }),
    );
  });
});

describe("migrationState", () => {
  const certKey = {
    keyId: "kc",
    thumbprint: T1,
    type: "AsymmetricX509Cert",
    usage: "Verify",
    start: NOW - DAY,
    end: NOW + DAY,
  };
  const secret = { keyId: "ks", start: NOW - 10 * DAY, end: NOW + 100 * DAY };
  const t = target({ keyCredentials: [certKey], passwordCredentials: [secret] });
  const thumbs = new Set([T1]);
  const at = (lastSignIn: Record<string, number>, rolloverVerifiedAt?: number) =>
    migrationState({
      target: t,
      certificateThumbprints: thumbs,
      signIns: { available: true, lastSignIn },
      ...(rolloverVerifiedAt !== undefined ? { rolloverVerifiedAt } : {}),
    }).state;

  it("switched only after a certificate sign-in that is not Rollover's own and no later secret sign-in", () => {
    expect(at({ ks: NOW - HOUR })).toBe("notSwitched");
    expect(at({ ks: NOW - HOUR, kc: NOW })).toBe("switched");
    expect(at({ ks: NOW, kc: NOW - HOUR })).toBe("notSwitched");
    expect(at({ ks: NOW - HOUR, kc: NOW }, NOW - 1000)).toBe("notSwitched");
    expect(at({ ks: NOW - HOUR, kc: NOW }, NOW - VERIFY_SIGN_IN_MARGIN_MS - 1)).toBe("switched");
  });

  it("unknown without sign-in data, done without secrets; secrets go only once switched", () => {
    expect(
      migrationState({
        target: t,
        certificateThumbprints: thumbs,
        signIns: { available: false, detail: "403" },
      }).state,
    ).toBe("unknown");
    expect(
      migrationState({
        target: target(),
        certificateThumbprints: thumbs,
        signIns: { available: false, detail: "-" },
      }).state,
    ).toBe("done");
    for (const s of ["unknown", "notSwitched", "done"] as const)
      expect(fieldOf(() => secretsToRemove({ state: s, detail: "" }, t))).toBe("--remove-secrets");
    expect(secretsToRemove({ state: "switched", detail: "" }, t)).toEqual([secret]);
  });

  it("never says switched while a secret signed in at or after the certificate", () => {
    fc.assert(
      fc.property(
        fc.array(passwordCredential, { minLength: 1, maxLength: 3 }),
        fc.dictionary(fc.constantFrom("kc", "a", "b"), fc.integer({ min: NOW - 100 * DAY, max: NOW })),
        (secrets, signIns) => {
          const tt = target({ keyCredentials: [certKey], passwordCredentials: secrets });
          const last: Record<string, number> = { ...signIns };
          for (const [i, s] of secrets.entries())
            if (signIns[["a", "b", "c"][i]!] !== undefined) last[s.keyId] = signIns[["a", "b", "c"][i]!]!;
          const state = migrationState({
            target: tt,
            certificateThumbprints: thumbs,
            signIns: { available: true, lastSignIn: last },
          }).state;
          const secretLast = Math.max(...secrets.map((s) => last[s.keyId] ?? -Infinity));
          if (state === "switched") expect(last.kc).toBeGreaterThan(secretLast);
        },
      ),
    );
  });
});

const HOUR = 3_600_000;

describe("the sweep reports secrets on bound targets, run after run, and never removes them for that", () => {
  it("a valid secret on a bound target is a SecretOnBoundTarget finding and no removal", () => {
    let seen = 0;
    fc.assert(
      fc.property(tenant, sweepPolicy, now, (input, policy, at) => {
        const plan = planSweep(input, policy, at);
        const bound = new Set(input.bindings.map((b) => b.binding.targetId.toLowerCase()));
        for (const t of input.targets)
          for (const p of t.passwordCredentials) {
            const has = plan.findings.some(
              (f) => f.reason === Reason.SecretOnBoundTarget && f.targetId === t.id && f.keyId === p.keyId,
            );
            expect(has).toBe(bound.has(t.id.toLowerCase()) && at < p.end);
            if (has) seen++;
          }
        for (const r of plan.removals) expect(r.finding.reason).not.toBe(Reason.SecretOnBoundTarget);
      }),
      { numRuns: 500 },
    );
    expect(seen).toBeGreaterThan(0);
  });
});
