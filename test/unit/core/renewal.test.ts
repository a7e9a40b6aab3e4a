import { describe, expect, it } from "vitest";
import {
  DAY,
  DEFAULT_RENEWAL_POLICY,
  HOUR,
  type LifetimeTrigger,
  Reason,
  renewAt,
  renewalDue,
} from "../../../shared/core/index.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const YEAR = 365 * DAY;
const policy = {
  ...DEFAULT_RENEWAL_POLICY,
  renewBeforeDays: 30,
  lifetimeFraction: 2 / 3,
  bufferMs: 24 * HOUR,
};
const oneYear = { notBefore: T0, expires: T0 + YEAR, created: T0 };
const twoThirds = T0 + Math.floor(YEAR * (2 / 3));

describe("renewal policy at its boundaries", () => {
  const cases: Array<{
    name: string;
    cert: typeof oneYear;
    now: number;
    due: boolean;
    reason: string;
    /** The policy's lifetime-action triggers: Key Vault's own near-expiry window. */
    window?: LifetimeTrigger[];
  }> = [
    {
      name: "exactly at 2/3 of the lifetime",
      cert: oneYear,
      now: twoThirds,
      due: true,
      reason: Reason.RenewLifetimeFraction,
    },
    {
      name: "one second before 2/3",
      cert: oneYear,
      now: twoThirds - 1000,
      due: false,
      reason: Reason.UpToDate,
    },
    {
      name: "one millisecond before 2/3",
      cert: oneYear,
      now: twoThirds - 1,
      due: false,
      reason: Reason.UpToDate,
    },
    { name: "already expired", cert: oneYear, now: T0 + YEAR, due: true, reason: Reason.RenewExpired },
    { name: "long expired", cert: oneYear, now: T0 + 2 * YEAR, due: true, reason: Reason.RenewExpired },
    { name: "fresh certificate", cert: oneYear, now: T0 + DAY, due: false, reason: Reason.UpToDate },
    {
      name: "Key Vault's near-expiry window (a lifetime action at 80 %) renews early",
      cert: { notBefore: T0, expires: T0 + YEAR, created: T0 },
      now: T0 + Math.floor(YEAR * 0.8),
      due: true,
      reason: Reason.RenewLifetimeFraction,
      window: [{ lifetimePercentage: 80 }],
    },
    {
      name: "Key Vault's near-expiry window (300 days before expiry) comes before 2/3",
      cert: oneYear,
      now: T0 + 100 * DAY,
      due: true,
      reason: Reason.RenewNearExpiryWindow,
      window: [{ daysBeforeExpiry: 300 }],
    },
    {
      name: "a fresh version is not due, whatever any event said (no window reached)",
      cert: oneYear,
      now: T0 + 100 * DAY,
      due: false,
      reason: Reason.UpToDate,
      window: [{ daysBeforeExpiry: 30 }],
    },
    {
      name: "nbf in the future is not due",
      cert: { notBefore: T0 + 10 * DAY, expires: T0 + YEAR, created: T0 },
      now: T0 + 5 * DAY,
      due: false,
      reason: Reason.NotYetValid,
    },
    {
      name: "nbf in the future and an event: still not due",
      cert: { notBefore: T0 + 10 * DAY, expires: T0 + YEAR, created: T0 },
      now: T0 + 5 * DAY,
      due: false,
      reason: Reason.NotYetValid,
      window: [{ daysBeforeExpiry: 360 }],
    },
    // Short-lived (40-day) certificate: renewBeforeDays (30 d before expiry = day 10) comes before 2/3 (day 26.7).
    {
      name: "renewBeforeDays wins for a short certificate",
      cert: { notBefore: T0, expires: T0 + 40 * DAY, created: T0 },
      now: T0 + 10 * DAY,
      due: true,
      reason: Reason.RenewBeforeExpiryDays,
    },
    {
      name: "one second before renewBeforeDays",
      cert: { notBefore: T0, expires: T0 + 40 * DAY, created: T0 },
      now: T0 + 10 * DAY - 1000,
      due: false,
      reason: Reason.UpToDate,
    },
    // Buffer edges: a 12-hour certificate is past 2/3 after 8 h but younger than the 24 h buffer.
    {
      name: "inside the buffer a due version is not renewed again",
      cert: { notBefore: T0, expires: T0 + 30 * HOUR, created: T0 },
      now: T0 + 24 * HOUR - 1000,
      due: false,
      reason: Reason.RecentlyRenewed,
    },
    {
      name: "exactly at the buffer edge it is due",
      cert: { notBefore: T0, expires: T0 + 30 * HOUR, created: T0 },
      now: T0 + 24 * HOUR,
      due: true,
      reason: Reason.RenewBeforeExpiryDays,
    },
    {
      name: "an event inside the buffer does not renew again",
      cert: { notBefore: T0, expires: T0 + YEAR, created: T0 + 200 * DAY },
      now: T0 + 200 * DAY + HOUR,
      due: false,
      reason: Reason.RecentlyRenewed,
      window: [{ daysBeforeExpiry: 360 }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = renewalDue(c.cert, c.now, policy, c.window);
      expect({ due: d.due, reason: d.reason }).toEqual({ due: c.due, reason: c.reason });
    });
  }

  it("renewAt is the earlier of the two rules", () => {
    expect(renewAt(oneYear, policy)).toEqual({ at: twoThirds, reason: Reason.RenewLifetimeFraction });
    const short = { notBefore: T0, expires: T0 + 40 * DAY };
    expect(renewAt(short, policy)).toEqual({ at: T0 + 10 * DAY, reason: Reason.RenewBeforeExpiryDays });
  });
});
