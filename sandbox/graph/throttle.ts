/**
 * Graph throttling for the identity and access service, as token buckets shaped like its limits
 * (research graph-entra.md §3.2; learn.microsoft.com/graph/throttling-limits, "Identity and access
 * service limits"): a resource-unit bucket and a write bucket per application+tenant pair, a write
 * bucket per tenant, and the 150-per-minute limit on listing applications with `$select` of
 * `keyCredentials` (application-list.md). The sandbox scales the quotas down (default: a quarter
 * of a small tenant's) so that tests reach them; `configureGraphThrottling` changes them.
 */
import type { VirtualClock } from "../clock.js";

export interface GraphThrottleLimits {
  enabled: boolean;
  /** Resource units per application+tenant pair per 10 s (real: 3,500 for a small tenant). */
  resourceUnitsPer10s: number;
  /** Writes per application+tenant pair per 150 s (real: 3,000). */
  writesPer150s: number;
  /** Writes per tenant, all applications, per 5 min (real: 18,000). */
  tenantWritesPer5min: number;
  /** List requests with `$select=keyCredentials` per tenant per minute (real: 150). */
  keyCredentialSelectsPerMinute: number;
}

export const DEFAULT_GRAPH_THROTTLE_LIMITS: GraphThrottleLimits = {
  enabled: true,
  resourceUnitsPer10s: 875,
  writesPer150s: 750,
  tenantWritesPer5min: 4500,
  keyCredentialSelectsPerMinute: 150,
};

interface Bucket {
  capacity: number;
  perMs: number;
  tokens: number;
  last: number;
}

export interface ThrottleCharge {
  tenantId: string;
  appId: string;
  resourceUnits: number;
  write: boolean;
  keyCredentialSelect: boolean;
}

export type ThrottleVerdict =
  | { ok: true; headers: Record<string, string> }
  | { ok: false; retryAfter: number; headers: Record<string, string> };

export class GraphThrottle {
  private limits: GraphThrottleLimits = { ...DEFAULT_GRAPH_THROTTLE_LIMITS };
  private buckets = new Map<string, Bucket>();

  constructor(private readonly clock: VirtualClock) {}

  configure(limits: Partial<GraphThrottleLimits>): GraphThrottleLimits {
    this.limits = { ...this.limits, ...limits };
    this.buckets.clear();
    return { ...this.limits };
  }

  current(): GraphThrottleLimits {
    return { ...this.limits };
  }

  private bucket(key: string, capacity: number, windowMs: number): Bucket {
    let b = this.buckets.get(key);
    const now = this.clock.now();
    if (!b || b.capacity !== capacity) {
      b = { capacity, perMs: capacity / windowMs, tokens: capacity, last: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(b.capacity, b.tokens + Math.max(0, now - b.last) * b.perMs);
    b.last = now;
    return b;
  }

  /** Charges one request; on a refusal nothing is consumed. */
  charge(c: ThrottleCharge): ThrottleVerdict {
    const headers: Record<string, string> = { "x-ms-resource-unit": String(c.resourceUnits) };
    if (!this.limits.enabled) return { ok: true, headers };
    const L = this.limits;
    const pair = `${c.appId}/${c.tenantId}`;
    const wanted: Array<{ b: Bucket; n: number; scope: string; info: string }> = [
      {
        b: this.bucket(`ru:${pair}`, L.resourceUnitsPer10s, 10_000),
        n: c.resourceUnits,
        scope: `Tenant_Application/ReadWrite/${pair}`,
        info: "ResourceUnitLimitExceeded",
      },
    ];
    if (c.write) {
      wanted.push(
        {
          b: this.bucket(`w:${pair}`, L.writesPer150s, 150_000),
          n: 1,
          scope: `Tenant_Application/Write/${pair}`,
          info: "WriteLimitExceeded",
        },
        {
          b: this.bucket(`tw:${c.tenantId}`, L.tenantWritesPer5min, 300_000),
          n: 1,
          scope: `Tenant/Write/00000000-0000-0000-0000-000000000000/${c.tenantId}`,
          info: "WriteLimitExceeded",
        },
      );
    }
    if (c.keyCredentialSelect) {
      wanted.push({
        b: this.bucket(`kc:${c.tenantId}`, L.keyCredentialSelectsPerMinute, 60_000),
        n: 1,
        scope: `Tenant/KeyCredentialsSelect/00000000-0000-0000-0000-000000000000/${c.tenantId}`,
        info: "ResourceUnitLimitExceeded",
      });
    }
    for (const w of wanted) {
      if (w.b.tokens < w.n) {
        const retryAfter = Math.max(1, Math.ceil((w.n - w.b.tokens) / w.b.perMs / 1000));
        return {
          ok: false,
          retryAfter,
          headers: {
            ...headers,
            "Retry-After": String(retryAfter),
            "x-ms-throttle-scope": w.scope,
            "x-ms-throttle-information": w.info,
            "x-ms-throttle-limit-percentage": "1.0",
          },
        };
      }
    }
    let used = 0;
    for (const w of wanted) {
      w.b.tokens -= w.n;
      used = Math.max(used, 1 - w.b.tokens / w.b.capacity);
    }
    // Sent only once more than 80 % of a limit is used (throttling-limits.md).
    if (used > 0.8) headers["x-ms-throttle-limit-percentage"] = used.toFixed(1);
    return { ok: true, headers };
  }
}
