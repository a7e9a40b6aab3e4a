/** fast-check generators for the decision core: small tenants that collide often on purpose. */
import fc from "fast-check";
import type {
  BindingLike,
  CertificateVersion,
  KeyCredential,
  PasswordCredential,
  SweepInput,
  SweepPolicy,
  Target,
} from "../../../shared/core/index.js";
import { DAY, firstSeenKey } from "../../../shared/core/index.js";

export const NOW = Date.parse("2026-06-01T00:00:00Z");
const THUMBS = Array.from({ length: 8 }, (_, i) => i.toString(16).toUpperCase().repeat(40));
const IDS = Array.from({ length: 6 }, (_, i) => `0000000${i}-0000-4000-8000-00000000000${i}`);

/** An instant within ±2 years of NOW, in whole hours. */
const instant = fc.integer({ min: -730 * 24, max: 730 * 24 }).map((h) => NOW + h * 3_600_000);
const span = fc
  .tuple(instant, fc.integer({ min: 1, max: 3 * 365 * 24 }))
  .map(([s, h]) => ({ start: s, end: s + h * 3_600_000 }));

export const keyCredential: fc.Arbitrary<KeyCredential> = fc
  .record({
    keyId: fc.uuid(),
    thumbprint: fc.constantFrom(...THUMBS),
    span,
    displayName: fc.constantFrom("rollover:kv/cert0/v1", "break-glass", null),
  })
  .map(({ keyId, thumbprint, span, displayName }) => ({
    keyId,
    thumbprint,
    displayName,
    type: "AsymmetricX509Cert",
    usage: "Verify",
    ...span,
  }));

export const passwordCredential: fc.Arbitrary<PasswordCredential> = fc
  .record({ keyId: fc.uuid(), span })
  .map(({ keyId, span }) => ({ keyId, ...span }));

const baseTenant: fc.Arbitrary<{ targets: Target[]; bindings: BindingLike[]; selfIds: string[] }> = fc
  .uniqueArray(fc.constantFrom(...IDS), { minLength: 1, maxLength: IDS.length })
  .chain((ids) =>
    fc.record({
      targets: fc.tuple(
        ...ids.map((id) =>
          fc
            .record({
              keyCredentials: fc.array(keyCredential, { maxLength: 4 }),
              passwordCredentials: fc.array(passwordCredential, { maxLength: 3 }),
              type: fc.constantFrom(
                "application" as const,
                "agentIdentityBlueprint" as const,
                "servicePrincipal" as const,
              ),
            })
            .map((t) => ({
              ...t,
              tenantId: "t",
              id,
              appId: `app-${id}`,
              displayName: `app ${id.slice(7, 8)}`,
            })),
        ),
      ),
      bindings: fc.array(
        fc.record({
          targetId: fc.constantFrom(...ids),
          attached: fc.subarray(THUMBS, { maxLength: 3 }),
          mode: fc.constantFrom("auto" as const, "self" as const, "managed" as const),
          versions: fc.array(
            fc
              .record({
                version: fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16).padStart(4, "0")),
                thumbprint: fc.constantFrom(...THUMBS),
                span,
                enabled: fc.boolean(),
              })
              .map(
                (v): CertificateVersion => ({
                  version: v.version,
                  thumbprint: v.thumbprint,
                  notBefore: v.span.start,
                  expires: v.span.end,
                  created: v.span.start,
                  enabled: v.enabled,
                }),
              ),
            { minLength: 1, maxLength: 3 },
          ),
        }),
        { maxLength: 4 },
      ),
      self: fc.option(fc.constantFrom(...ids), { nil: undefined }),
    }),
  )
  .map(({ targets, bindings, self }) => ({
    targets: [...targets],
    bindings: bindings.map((b, i) => ({
      binding: {
        vaultName: "kv",
        certificateName: `cert${i}`,
        targetId: b.targetId,
        targetType: "application" as const,
        mode: b.mode,
      },
      versions: b.versions,
      attached: b.attached,
    })),
    selfIds: self ? [self] : [],
  }));

/**
 * A whole sweep input: the tenant, when Rollover first saw each credential (or never), when the
 * run started, which targets Rollover's identity owns with managed mode on or off, and thumbprints
 * of bindings with malformed tags.
 */
export const tenant: fc.Arbitrary<SweepInput> = baseTenant.chain((t) => {
  const creds = t.targets.flatMap((x) =>
    [...x.keyCredentials, ...x.passwordCredentials].map((c) => firstSeenKey(x.id, c.keyId)),
  );
  return fc
    .record({
      seen: fc.array(fc.option(fc.integer({ min: -60 * 24, max: 0 }), { nil: undefined }), {
        minLength: creds.length,
        maxLength: creds.length,
      }),
      runStartedAt: fc.integer({ min: -48, max: 0 }),
      managedMode: fc.boolean(),
      owned: fc.subarray(t.targets.map((x) => x.id)),
      protectedThumbprints: fc.subarray(THUMBS, { maxLength: 2 }),
    })
    .map((w) => ({
      ...t,
      // Offsets in hours before the run's `now` (applied by `at`); see `withClock`.
      firstSeenOffsets: new Map(creds.flatMap((k, i) => (w.seen[i] === undefined ? [] : [[k, w.seen[i]!]]))),
      runStartedOffset: w.runStartedAt,
      access: { managedMode: w.managedMode, owned: new Set(w.owned) },
      protectedThumbprints: new Set(w.protectedThumbprints),
    }));
});

/** A sweep input with its first-sight offsets and run start placed on the clock at `at`. */
export function withClock(input: SweepInput, at: number): SweepInput {
  const x = input as SweepInput & { firstSeenOffsets?: Map<string, number>; runStartedOffset?: number };
  const firstSeen = new Map<string, number>();
  for (const [k, h] of x.firstSeenOffsets ?? []) firstSeen.set(k, at + h * 3_600_000);
  return { ...input, firstSeen, runStartedAt: at + (x.runStartedOffset ?? 0) * 3_600_000 };
}

export const sweepPolicy: fc.Arbitrary<SweepPolicy> = fc.record({
  mode: fc.constantFrom("report" as const, "remove" as const),
  maxRemovals: fc.integer({ min: 0, max: 6 }),
  graceMs: fc.integer({ min: 0, max: 30 }).map((d) => d * DAY),
  maxLifetimeMs: fc.integer({ min: 30, max: 800 }).map((d) => d * DAY),
  expiringWithinMs: fc.integer({ min: 1, max: 60 }).map((d) => d * DAY),
  requireCertificates: fc.boolean(),
  removeExpiredSecrets: fc.boolean(),
  allowList: fc.constantFrom([], [IDS[0]!], [IDS[1]!, IDS[2]!]),
  denyList: fc.constantFrom([], [IDS[3]!]),
});

export const now = fc.integer({ min: -400, max: 400 }).map((d) => NOW + d * DAY);

/** Applies a sweep plan's removals to the targets. */
export function applyRemovals(
  targets: readonly Target[],
  removals: ReadonlyArray<{ finding: { targetId: string; keyId: string; credential: string } }>,
): Target[] {
  return targets.map((t) => {
    const gone = removals.filter((r) => r.finding.targetId === t.id);
    return {
      ...t,
      keyCredentials: t.keyCredentials.filter(
        (k) => !gone.some((r) => r.finding.credential === "key" && r.finding.keyId === k.keyId),
      ),
      passwordCredentials: t.passwordCredentials.filter(
        (p) => !gone.some((r) => r.finding.credential === "secret" && r.finding.keyId === p.keyId),
      ),
    };
  });
}
