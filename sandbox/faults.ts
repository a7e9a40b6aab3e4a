/**
 * Fault injection, per service and route, deterministic from a seed.
 *
 * A spec is a `;`-separated list of rules: `service[:pathRegex][,METHOD]=kind[@probability][xCount][/param]`
 *
 *   graph=429@0.3/2        30 % of Graph requests get 429 with Retry-After: 2
 *   keyvault:/certificates=503x3   the next three matching Key Vault requests get 503
 *   logs=down              every Logs Ingestion request fails with 503 (an outage)
 *   *=latency/20           every request is delayed by 20 ms
 *   graph,POST=reset@0.1   10 % of Graph POSTs have their connection reset
 *   entra=timeout@0.05     5 % of token requests hang until the client gives up
 *   graph=stale/2000       Graph reads see the directory as it was 2000 ms ago (replication lag)
 *   entra=stale/2000       the token endpoint checks credentials as they were 2000 ms ago
 *
 * Kinds: latency (param: ms), 429 (param: Retry-After seconds, default 1), 500, 503 (param:
 * Retry-After seconds, optional), down (503 on every request), reset, timeout, stale (param: ms
 * of replication lag; graph or entra: a matching Graph read, or the token endpoint's check of a
 * client's credentials, sees the state of `param` ms ago on the virtual clock, so the lag heals as
 * real time passes or at once when the clock is moved).
 */
import type { ServiceName } from "./http.js";

export type FaultKind = "latency" | "429" | "500" | "503" | "down" | "reset" | "timeout" | "stale";

export interface FaultRule {
  service: ServiceName | "*";
  path?: RegExp;
  method?: string;
  kind: FaultKind;
  /** Chance that a matching request is hit, 0..1 (default 1). */
  probability?: number;
  /** Hit only this many matching requests, then the rule is spent. */
  count?: number;
  /** Milliseconds for latency; Retry-After seconds for 429/503. */
  param?: number;
}

export type FaultDecision =
  | { kind: "none"; latencyMs: number }
  | { kind: "status"; status: number; retryAfter?: number; latencyMs: number }
  | { kind: "reset"; latencyMs: number }
  | { kind: "timeout"; latencyMs: number };

const KINDS: ReadonlySet<string> = new Set([
  "latency",
  "429",
  "500",
  "503",
  "down",
  "reset",
  "timeout",
  "stale",
]);
const SERVICES: ReadonlySet<string> = new Set([
  "entra",
  "graph",
  "keyvault",
  "logs",
  "eventgrid",
  "control",
  "msi",
  "*",
]);

export class FaultSpecError extends Error {
  override name = "FaultSpecError";
}

/** Parses a fault spec string (see the module comment); throws `FaultSpecError` naming the bad rule. */
export function parseFaultSpec(spec: string): FaultRule[] {
  const rules: FaultRule[] = [];
  for (const raw of spec
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m =
      /^([a-z*]+)(?::([^,=]+))?(?:,([A-Za-z]+))?=([a-z]+|[0-9]{3})(?:@([0-9.]+))?(?:x([0-9]+))?(?:\/([0-9.]+))?$/.exec(
        raw,
      );
    if (!m) {
      throw new FaultSpecError(
        `bad fault rule "${raw}": expected service[:pathRegex][,METHOD]=kind[@probability][xCount][/param], e.g. graph=429@0.3/2`,
      );
    }
    const [, service, path, method, kind, prob, count, param] = m;
    if (!SERVICES.has(service!)) {
      throw new FaultSpecError(
        `bad fault rule "${raw}": unknown service "${service}" (one of ${[...SERVICES].join(", ")})`,
      );
    }
    if (!KINDS.has(kind!)) {
      throw new FaultSpecError(
        `bad fault rule "${raw}": unknown kind "${kind}" (one of ${[...KINDS].join(", ")})`,
      );
    }
    if (
      kind === "stale" &&
      ((service !== "graph" && service !== "entra") || param === undefined || !(Number(param) > 0))
    ) {
      throw new FaultSpecError(
        `bad fault rule "${raw}": stale applies to graph or entra and needs the lag in ms, e.g. graph=stale/2000`,
      );
    }
    const probability = prob === undefined ? undefined : Number(prob);
    if (probability !== undefined && !(probability >= 0 && probability <= 1)) {
      throw new FaultSpecError(`bad fault rule "${raw}": probability must be between 0 and 1`);
    }
    rules.push({
      service: service as ServiceName | "*",
      ...(path ? { path: new RegExp(path, "i") } : {}),
      ...(method ? { method: method.toUpperCase() } : {}),
      kind: kind as FaultKind,
      ...(probability !== undefined ? { probability } : {}),
      ...(count ? { count: Number(count) } : {}),
      ...(param ? { param: Number(param) } : {}),
    });
  }
  return rules;
}

/** A seeded PRNG (mulberry32): the same seed and request sequence give the same faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface LiveRule extends FaultRule {
  remaining: number;
}

export class FaultInjector {
  private rules: LiveRule[] = [];
  private random: () => number;
  /** How many requests each fault kind hit, for tests and the control API. */
  readonly hits = new Map<string, number>();

  constructor(private seed = 1) {
    this.random = seededRandom(seed);
  }

  set(rules: FaultRule[], seed = this.seed): void {
    this.seed = seed;
    this.random = seededRandom(seed);
    this.rules = rules.map((r) => ({ ...r, remaining: r.count ?? Number.POSITIVE_INFINITY }));
  }

  add(rules: FaultRule[]): void {
    this.rules.push(...rules.map((r) => ({ ...r, remaining: r.count ?? Number.POSITIVE_INFINITY })));
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRule[] {
    return this.rules.filter((r) => r.remaining > 0).map(({ remaining: _r, ...rule }) => rule);
  }

  /** Whether any `stale` rule is live (writes then remember what lagging reads may still see). */
  staleOn(): boolean {
    return this.rules.some((r) => r.kind === "stale" && r.remaining > 0);
  }

  /** The longest lag any live `stale` rule allows (how long writes must be remembered). */
  maxStaleMs(): number {
    return Math.max(
      0,
      ...this.rules.filter((r) => r.kind === "stale" && r.remaining > 0).map((r) => r.param ?? 0),
    );
  }

  /** How far behind one read is (ms; 0: it sees the latest state). Counts a hit when it is. */
  staleMs(service: ServiceName, method: string, path: string): number {
    for (const rule of this.rules) {
      if (rule.kind !== "stale" || rule.remaining <= 0) continue;
      if (rule.service !== service) continue;
      if (rule.method && rule.method !== method.toUpperCase()) continue;
      if (rule.path && !rule.path.test(path)) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.remaining -= 1;
      this.hits.set("stale", (this.hits.get("stale") ?? 0) + 1);
      return rule.param ?? 0;
    }
    return 0;
  }

  /** Decides what happens to one request. Latency rules add up; the first failure rule that fires wins. */
  decide(service: ServiceName, method: string, path: string): FaultDecision {
    let latencyMs = 0;
    for (const rule of this.rules) {
      if (rule.remaining <= 0) continue;
      if (rule.service !== "*" && rule.service !== service) continue;
      if (rule.method && rule.method !== method.toUpperCase()) continue;
      if (rule.path && !rule.path.test(path)) continue;
      if (rule.kind === "stale") continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      if (rule.kind === "latency") {
        latencyMs += rule.param ?? 20;
        continue;
      }
      rule.remaining -= 1;
      this.hits.set(rule.kind, (this.hits.get(rule.kind) ?? 0) + 1);
      switch (rule.kind) {
        case "429":
          return { kind: "status", status: 429, retryAfter: rule.param ?? 1, latencyMs };
        case "500":
          return { kind: "status", status: 500, latencyMs };
        case "503":
        case "down":
          return {
            kind: "status",
            status: 503,
            ...(rule.param !== undefined ? { retryAfter: rule.param } : {}),
            latencyMs,
          };
        case "reset":
          return { kind: "reset", latencyMs };
        case "timeout":
          return { kind: "timeout", latencyMs };
      }
    }
    return { kind: "none", latencyMs };
  }
}
