/**
 * The sandbox's virtual clock. Every service reads time from here, so a test can move a tenant
 * weeks forward in milliseconds: near-expiry events fire, certificates expire and Key Vault
 * auto-renews. Listeners run in registration order after each move, and `advance` resolves only
 * once they are done, so a caller sees the consequences of the move when its promise settles.
 */
export type ClockListener = (from: number, to: number) => void | Promise<void>;

export class VirtualClock {
  private offsetMs = 0;
  private readonly listeners: ClockListener[] = [];

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
    return to;
  }

  /** Moves the clock to an absolute instant, which must not be in the virtual past. */
  async setTo(epochMs: number): Promise<number> {
    return this.advance(Math.max(0, epochMs - this.now()));
  }
}
