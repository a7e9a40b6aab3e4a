/** fast-check generators for the decision core: small tenants that collide often on purpose. */
import fc from "fast-check";
import type {
  BindingLike,
  CertificateVersion,
  KeyCredential,
  PasswordCredential,
  SweepPolicy,
  Target,
} from "../../../shared/core/index.js";
import { DAY } from "../../../shared/core/index.js";

export const NOW = Date.parse("2026-06-01T00:00:00Z");
const THUMBS = Array.from({ length: 8 }, (_, i) => i.toString(16).toUpperCase().repeat(40));
const IDS = Array.from({ length: 6 }, (_, i) => `0000000${i}-0000-4000-8000-00000000000${i}`);

/** An instant within ±2 years of NOW, in whole hours. */
const instant = fc.integer({ min: -730 * 24, max: 730 * 24 }).map((h) => NOW + h * 3_600_000);
const span = fc
  .tuple(instant, fc.integer({ min: 1, max: 3 * 365 * 24 }))
  .map(([s, h]) => ({ start: s, end: s + h * 3_600_000 }));

export const keyCredential: fc.Arbitrary<KeyCredential> = fc
  .record({ keyId: fc.uuid(), thumbprint: fc.constantFrom(...THUMBS), span })
  .map(({ keyId, thumbprint, span }) => ({
    keyId,
    thumbprint,
    type: "AsymmetricX509Cert",
    usage: "Verify",
    ...span,
  }));

export const passwordCredential: fc.Arbitrary<PasswordCredential> = fc
  .record({ keyId: fc.uuid(), span })
  .map(({ keyId, span }) => ({ keyId, ...span }));

export const tenant: fc.Arbitrary<{ targets: Target[]; bindings: BindingLike[]; selfIds: string[] }> = fc
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
        mode: "auto" as const,
      },
      versions: b.versions,
    })),
    selfIds: self ? [self] : [],
  }));

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
