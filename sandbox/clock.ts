/**
 * The sandbox's virtual clock. Every service reads time from here, so a test can move a tenant
 * weeks forward in milliseconds: near-expiry events fire, certificates expire and Key Vault
 * auto-renews. Listeners run in registration order after each move, and `advance` resolves only
 * once they are done, so a caller sees the consequences of the move when its promise settles.
 *
 * It also keeps timers (`setTimeout`/`clearTimeout`), for clients under test that take their timers
 * as a parameter (EntraAgentId's `scheduler`): a timer fires during the `advance` that reaches its
 * due instant — never by real time alone, so a loaded machine cannot fire it early or late — after
 * the listeners, and `advance` waits for what its callback returns.
 */
export type ClockListener = (from: number, to: number) => void | Promise<void>;

/** A timer on the virtual clock; pass it to `clearTimeout`. */
export interface VirtualTimer {
  /** Virtual epoch ms at which it fires (on the first `advance` that reaches it). */
  readonly dueAt: number;
}

interface Pending extends VirtualTimer {
  readonly seq: number;
  readonly callback: () => unknown;
}

export class VirtualClock {
  private offsetMs = 0;
  private readonly listeners: ClockListener[] = [];
  private readonly timers = new Set<Pending>();
  private timerSeq = 0;

  constructor(private readonly realNow: () => number = Date.now) {}

  /** Milliseconds since the epoch on the virtual clock. */
  now(): number {
    return this.realNow() + this.offsetMs;
  }

  nowDate(): Date {
    return new Date(this.now());
  }

  /** Seconds since the epoch (what JWTs and Key Vault attributes carry). */
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  get offset(): number {
    return this.offsetMs;
  }

  onAdvance(listener: ClockListener): void {
    this.listeners.push(listener);
  }

  /** Moves the clock forward by `ms` (never backwards) and runs the listeners. */
  async advance(ms: number): Promise<number> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError("the clock only moves forward: ms must be >= 0");
    const from = this.now();
    this.offsetMs += ms;
    const to = this.now();
    for (const l of this.listeners) await l(from, to);
    await this.fireTimers(to);
    return to;
  }

  /** Calls `callback` once the clock is advanced to `ms` from now (or further). */
  setTimeout(callback: () => unknown, ms: number): VirtualTimer {
    const t: Pending = { dueAt: this.now() + Math.max(0, ms), seq: this.timerSeq++, callback };
    this.timers.add(t);
    return t;
  }

  clearTimeout(timer: unknown): void {
    this.timers.delete(timer as Pending);
  }

  /** Timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /**
   * Fires the timers due at `to`, earliest first, each awaited. Timers their callbacks set wait
   * for the next move (a callback that re-arms itself cannot spin one `advance` forever).
   */
  private async fireTimers(to: number): Promise<void> {
    const due = [...this.timers]
      .filter((t) => t.dueAt <= to)
      .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
    for (const t of due) {
      if (!this.timers.delete(t)) continue; // cleared by an earlier callback
      await t.callback();
    }
  }

  /** Moves the clock to an absolute instant, which must not be in the virtual past. */
  async setTo(epochMs: number): Promise<number> {
    return this.advance(Math.max(0, epochMs - this.now()));
  }
}
