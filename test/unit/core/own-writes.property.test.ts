/**
 * Rollover's own writes against stale reads (eventual consistency), stated as laws: whatever a
 * read a little behind shows, a change Graph accepted is not made again while it is trusted, and
 * a whole-collection rewrite (managed mode) never starts from a read that misses Rollover's own
 * last change.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BindingObservation,
  type BindingPolicy,
  type CertificateVersion,
  DAY,
  type KeyCredential,
  OWN_WRITE_TRUST_MS,
  type OwnWrite,
  planBinding,
  sortVersions,
  withOwnWrites,
} from "../../../shared/core/index.js";
import { NOW } from "./arbitraries.js";

const RUNS = { numRuns: 1000 };
const MIN = 60_000;

const world = fc
  .record({
    versions: fc.integer({ min: 1, max: 3 }),
    lifetimeDays: fc.integer({ min: 30, max: 400 }),
    ageDays: fc.integer({ min: 0, max: 500 }),
    mode: fc.constantFrom("auto" as const, "self" as const, "managed" as const),
    managed: fc.boolean(),
    graceDays: fc.integer({ min: 0, max: 3 }),
    verifiedAgoDays: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
    wroteAgoMin: fc.integer({ min: 0, max: 30 }),
    writeKind: fc.constantFrom("attach" as const, "retire" as const),
    readShowsWrite: fc.boolean(),
  })
  .map((w) => {
    const versions: CertificateVersion[] = Array.from({ length: w.versions }, (_, i) => {
      const start = NOW - (w.ageDays + (w.versions - 1 - i) * 100) * DAY;
      return {
        version: `v${i}`,
        thumbprint: String(i).repeat(40),
        notBefore: start,
        expires: start + w.lifetimeDays * DAY,
        created: start,
        enabled: true,
      };
    });
    const newest = sortVersions(versions)[0]!;
    const older = versions.filter((v) => v !== newest);
    const key = (v: CertificateVersion): KeyCredential => ({
      keyId: `key-${v.version}`,
      thumbprint: v.thumbprint,
      start: v.notBefore,
      end: v.expires,
      type: "AsymmetricX509Cert",
      usage: "Verify",
    });
    const at = NOW - w.wroteAgoMin * MIN;
    // The true state after Rollover's write, and the state a read before it replicated shows.
    const before = versions.map(key);
    let after = before;
    let write: OwnWrite;
    if (w.writeKind === "attach") {
      before.splice(
        before.findIndex((k) => k.thumbprint === newest.thumbprint),
        1,
      );
      after = versions.map(key);
      write = {
        kind: "attach",
        keyId: `key-${newest.version}`,
        thumbprint: newest.thumbprint,
        start: newest.notBefore,
        end: newest.expires,
        at,
      };
    } else {
      const gone = older[0] ?? newest;
      after = before.filter((k) => k.keyId !== `key-${gone.version}`);
      write = { kind: "retire", keyId: `key-${gone.version}`, at };
    }
    const obs: BindingObservation = {
      binding: {
        vaultName: "kv",
        certificateName: "c",
        targetId: "t1",
        targetType: "application",
        mode: w.mode,
      },
      versions,
      policy: { issuerName: "Self", renewable: true },
      target: {
        tenantId: "t",
        id: "t1",
        appId: "a1",
        displayName: "app",
        type: "application",
        keyCredentials: w.readShowsWrite ? after : before,
        passwordCredentials: [],
      },
      state: {
        attempts: 0,
        writes: [write],
        ...(w.verifiedAgoDays !== undefined
          ? { verifiedVersion: newest.version, verifiedAt: NOW - w.verifiedAgoDays * DAY }
          : {}),
      },
      renewalPending: false,
      selfIds: [],
    };
    const policy: BindingPolicy = {
      renewal: { renewBeforeDays: 1, lifetimeFraction: 0.99, bufferMs: 0 },
      graceMs: w.graceDays * DAY,
      managedModeAllowed: w.managed,
    };
    return { obs, policy, write, trusted: NOW - at < OWN_WRITE_TRUST_MS };
  });

describe("own writes over stale reads, stated as laws", () => {
  it("a trusted attach is never made again and a trusted retire never repeated, whatever the read shows", () => {
    fc.assert(
      fc.property(world, ({ obs, policy, write, trusted }) => {
        const step = planBinding(obs, policy, NOW).step;
        if (!trusted) return true;
        if (write.kind === "attach")
          return !(
            step.kind === "attach" &&
            obs.versions.some((v) => v.version === step.version && v.thumbprint === write.thumbprint)
          );
        return !(step.kind === "retire" && step.keyId === write.keyId);
      }),
      RUNS,
    );
  });

  it("managed mode never rewrites keyCredentials from a read that misses Rollover's own trusted write", () => {
    fc.assert(
      fc.property(world, ({ obs, policy, trusted }) => {
        const step = planBinding(obs, policy, NOW).step;
        const unconfirmed = withOwnWrites(obs.target, obs.state.writes, NOW, OWN_WRITE_TRUST_MS).unconfirmed;
        if (!trusted || unconfirmed.length === 0) return true;
        return !((step.kind === "attach" || step.kind === "retire") && step.mode === "managed");
      }),
      RUNS,
    );
  });

  it("a read that shows the write confirms it; a write past the trust window is forgotten", () => {
    fc.assert(
      fc.property(world, ({ obs, write }) => {
        const seen = withOwnWrites(obs.target, [write], NOW, OWN_WRITE_TRUST_MS);
        const shows =
          write.kind === "attach"
            ? obs.target!.keyCredentials.some((k) => k.thumbprint === write.thumbprint)
            : !obs.target!.keyCredentials.some((k) => k.keyId === write.keyId);
        expect(seen.unconfirmed.length).toBe(shows || NOW - write.at >= OWN_WRITE_TRUST_MS ? 0 : 1);
        expect(
          withOwnWrites(obs.target, [write], write.at + OWN_WRITE_TRUST_MS, OWN_WRITE_TRUST_MS).unconfirmed,
        ).toEqual([]);
        // Applying twice changes nothing more.
        expect(withOwnWrites(seen.target, [write], NOW, OWN_WRITE_TRUST_MS).target).toEqual(seen.target);
      }),
      RUNS,
    );
  });
});
