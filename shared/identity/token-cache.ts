/**
 * Tokens cached per scope set, refreshed ahead of expiry, with concurrent requests for the same
 * scopes sharing one acquisition. Time is read from an injected `now()`; the SDKs report expiry on
 * the process clock (`Date.now`), so an acquired token's remaining lifetime is carried over into
 * the `now()` frame when it is stored.
 *
 * Auto refresh runs on one timer, set on the injected `scheduler` (default: Node's, unref'd). A
 * background failure is never thrown into the void: it is kept on the scope set's entry, passed
 * to `onBackgroundError`, and surfaced by the next `get` for those scopes, which retries in the
 * foreground and throws if the retry fails too.
 */
import { describe, EntraAgentIdError } from "./errors.js";
import type { Scheduler } from "./options.js";

/** Node's timers, unref'd: a pending refresh never keeps the process alive. */
export const nodeTimers: Scheduler = {
  setTimeout(callback, ms) {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** A token as an SDK returns it; timestamps on the process clock (`Date.now`). */
export interface AcquiredToken {
  token: string;
  expiresOnTimestamp: number;
  refreshAfterTimestamp?: number;
}

/** A cached token; timestamps on the injected clock. */
export interface CachedToken {
  token: string;
  scopes: readonly string[];
  acquiredAt: number;
  expiresAt: number;
  /** When a refresh is due by the token's own lifetime (`refresh_in`, or before expiry). */
  refreshAt: number;
}

export interface TokenCacheOptions {
  acquire: (scopes: string[]) => Promise<AcquiredToken>;
  now: () => number;
  refreshBeforeExpiryMs: number;
  onBackgroundError?: (error: Error) => void;
  /** Default `nodeTimers`. Delays are in `now()`'s milliseconds. */
  scheduler?: Scheduler;
}

interface Entry {
  scopes: string[];
  token?: CachedToken;
  inflight?: Promise<CachedToken>;
  /** A background refresh failure not yet surfaced. */
  failure?: Error;
  failures: number;
  /** No background retry before this instant (back-off after failures). */
  retryAt: number;
}

/** The longest the auto refresh timer sleeps before looking again (clock jumps, suspended hosts). */
const MAX_SLEEP_MS = 30_000;
const MIN_SLEEP_MS = 25;
const RETRY_BASE_MS = 5_000;
const RETRY_MAX_MS = 300_000;

export function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes.map((s) => s.trim()).filter(Boolean))].sort().join(" ");
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private interval: number | undefined;
  private auto = false;
  private timer: unknown;
  private closed = false;
  /** Number of acquisitions started (for diagnostics). */
  acquisitions = 0;

  private readonly timers: Scheduler;

  constructor(private readonly opts: TokenCacheOptions) {
    this.timers = opts.scheduler ?? nodeTimers;
  }

  /** A valid token for `scopes`: cached when fresh, else acquired (once for all concurrent callers). */
  async get(scopes: string[]): Promise<CachedToken> {
    if (this.closed) throw new EntraAgentIdError("closed", "EntraAgentId is closed: create a new instance");
    const entry = this.entry(scopes);
    const kept = entry.failure;
    if (kept) {
      entry.failure = undefined;
      try {
        return await this.refresh(entry);
      } catch (e) {
        throw new EntraAgentIdError(
          "refresh_failed",
          `Background token refresh for '${scopeKey(entry.scopes)}' failed (${describe(kept)}), and the retry failed too: ${describe(e)}`,
          { cause: e, ...(aadsts(e) !== undefined ? { aadsts: aadsts(e) } : {}) },
        );
      }
    }
    const t = entry.token;
    if (t && this.opts.now() < this.dueAt(t)) return t;
    return this.refresh(entry);
  }

  /** Re-acquires now, sharing a refresh already under way. */
  refresh(entry: Entry): Promise<CachedToken> {
    if (entry.inflight) return entry.inflight;
    this.acquisitions++;
    const p = (async () => {
      const acquired = await this.opts.acquire([...entry.scopes]);
      const processNow = Date.now();
      const now = this.opts.now();
      const expiresAt = now + (acquired.expiresOnTimestamp - processNow);
      const lifetime = Math.max(0, expiresAt - now);
      const refreshAt =
        acquired.refreshAfterTimestamp !== undefined &&
        acquired.refreshAfterTimestamp < acquired.expiresOnTimestamp
          ? now + Math.max(0, acquired.refreshAfterTimestamp - processNow)
          : expiresAt - Math.min(this.opts.refreshBeforeExpiryMs, lifetime / 2);
      const token: CachedToken = {
        token: acquired.token,
        scopes: entry.scopes,
        acquiredAt: now,
        expiresAt,
        refreshAt,
      };
      entry.token = token;
      entry.failure = undefined;
      entry.failures = 0;
      entry.retryAt = 0;
      return token;
    })();
    entry.inflight = p;
    const clear = () => {
      if (entry.inflight === p) entry.inflight = undefined;
      this.schedule();
    };
    p.then(clear, clear);
    return p;
  }

  /** Refresh tokens at most this long after they were acquired; `undefined` for lifetime only. */
  setRefreshInterval(ms: number | undefined): void {
    this.interval = ms;
    this.schedule();
  }

  get refreshInterval(): number | undefined {
    return this.interval;
  }

  enableAutoRefresh(on: boolean): void {
    this.auto = on;
    this.schedule();
  }

  get autoRefresh(): boolean {
    return this.auto;
  }

  /** Drops every cached token (not the in-flight requests). */
  clear(): void {
    for (const e of this.entries.values()) e.token = undefined;
  }

  cached(scopes: string[]): CachedToken | undefined {
    return this.entries.get(scopeKey(scopes))?.token;
  }

  /** The last background failure still kept, if any. */
  pendingFailure(): Error | undefined {
    for (const e of this.entries.values()) if (e.failure) return e.failure;
    return undefined;
  }

  close(): void {
    this.closed = true;
    this.auto = false;
    this.cancelTimer();
  }

  private entry(scopes: string[]): Entry {
    const key = scopeKey(scopes);
    let e = this.entries.get(key);
    if (!e) {
      e = { scopes: key.split(" "), failures: 0, retryAt: 0 };
      this.entries.set(key, e);
    }
    return e;
  }

  private dueAt(t: CachedToken): number {
    return this.interval === undefined ? t.refreshAt : Math.min(t.refreshAt, t.acquiredAt + this.interval);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.cancelTimer();
    if (!this.auto || this.closed) return;
    const now = this.opts.now();
    let next = now + MAX_SLEEP_MS;
    for (const e of this.entries.values()) {
      if (!e.token || e.inflight) continue;
      next = Math.min(next, Math.max(this.dueAt(e.token), e.retryAt));
    }
    const delay = Math.min(MAX_SLEEP_MS, Math.max(MIN_SLEEP_MS, next - now));
    this.timer = this.timers.setTimeout(() => this.tick(), delay);
  }

  /** Starts the refreshes that are due; settles (never rejects) once they and their bookkeeping are done. */
  private async tick(): Promise<void> {
    this.timer = undefined;
    if (!this.auto || this.closed) return;
    const now = this.opts.now();
    const started: Promise<unknown>[] = [];
    for (const e of this.entries.values()) {
      if (!e.token || e.inflight || now < this.dueAt(e.token) || now < e.retryAt) continue;
      const p = this.refresh(e).catch((err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        e.failure = error;
        e.failures++;
        e.retryAt = this.opts.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (e.failures - 1));
        try {
          this.opts.onBackgroundError?.(error);
        } catch {
          // A failing listener must not break the refresh loop.
        }
        this.schedule();
      });
      started.push(p);
    }
    if (started.length === 0) this.schedule();
    await Promise.all(started);
  }
}

function aadsts(e: unknown): number | undefined {
  return e instanceof EntraAgentIdError ? e.aadsts : undefined;
}
