/**
 * Tokens cached per scope set, refreshed ahead of expiry, with concurrent requests for the same
 * scopes sharing one acquisition. Time is read from an injected `now()`; the SDKs report expiry on
 * the process clock (`Date.now`), so an acquired token's remaining lifetime is carried over into
 * the `now()` frame when it is stored.
 *
 * Auto refresh runs on one unref'd timer. A background failure is never thrown into the void: it
 * is kept on the scope set's entry, passed to `onBackgroundError`, and surfaced by the next
 * `get` for those scopes, which retries in the foreground and throws if the retry fails too.
 */
import { describe, EntraAgentIdError } from "./errors.js";

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
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Number of acquisitions started (for diagnostics). */
  acquisitions = 0;

  constructor(private readonly opts: TokenCacheOptions) {}

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
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
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

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.auto || this.closed) return;
    const now = this.opts.now();
    let next = now + MAX_SLEEP_MS;
    for (const e of this.entries.values()) {
      if (!e.token || e.inflight) continue;
      next = Math.min(next, Math.max(this.dueAt(e.token), e.retryAt));
    }
    const delay = Math.min(MAX_SLEEP_MS, Math.max(MIN_SLEEP_MS, next - now));
    this.timer = setTimeout(() => this.tick(), delay);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.auto || this.closed) return;
    const now = this.opts.now();
    let started = false;
    for (const e of this.entries.values()) {
      if (!e.token || e.inflight || now < this.dueAt(e.token) || now < e.retryAt) continue;
      started = true;
      this.refresh(e).catch((err: unknown) => {
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
    }
    if (!started) this.schedule();
  }
}

function aadsts(e: unknown): number | undefined {
  return e instanceof EntraAgentIdError ? e.aadsts : undefined;
}
