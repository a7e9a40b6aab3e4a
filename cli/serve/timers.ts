/**
 * serve's timers: each timer function on its NCRONTAB schedule (six fields, UTC), and run on
 * demand (`fireTimer`, the admin route). A timer never overlaps itself: runs of one timer chain.
 */
import type { Timer } from "@azure/functions";
import { CronExpressionParser } from "cron-parser";
import { errorSummary } from "../../shared/errors.js";
import type { ServeContext, TimerDefinition } from "./context.js";

export interface Timers {
  /** Runs the timer after its previous run ended; resolves with what it returned. */
  run(d: TimerDefinition, isPastDue?: boolean): Promise<unknown>;
  /** Fires the timer on its schedule until serve closes. */
  schedule(d: TimerDefinition): void;
  /** Resolves when every run started so far has ended. */
  settled(): Promise<void>;
}

export function serveTimers(ctx: ServeContext): Timers {
  const { log, signal } = ctx;
  const timerChains = new Map<string, Promise<unknown>>();

  function run(d: TimerDefinition, isPastDue = false): Promise<unknown> {
    const prev = timerChains.get(d.name) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(() => {
        const timer: Timer = {
          isPastDue,
          schedule: { adjustForDST: true },
          scheduleStatus: { last: new Date().toISOString(), next: "", lastUpdated: new Date().toISOString() },
        };
        return ctx.invoke(d.name, (ictx) => d.handler(timer, ictx));
      });
    timerChains.set(d.name, next);
    return next;
  }

  function schedule(d: TimerDefinition) {
    let timeout: NodeJS.Timeout | undefined;
    const arm = () => {
      if (signal.aborted) return;
      const next = CronExpressionParser.parse(d.schedule, { currentDate: new Date(), tz: "UTC" })
        .next()
        .getTime();
      // setTimeout holds at most ~24.8 days; re-arm on the way for longer waits.
      const wait = Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1);
      timeout = setTimeout(() => {
        if (Date.now() + 5 < next) return arm();
        run(d).then(
          () => undefined,
          (e: unknown) => log(`[${d.name}] failed: ${errorSummary(e)}`),
        );
        arm();
      }, wait);
      timeout.unref();
    };
    arm();
    signal.addEventListener("abort", () => clearTimeout(timeout), { once: true });
  }

  return {
    run,
    schedule,
    async settled() {
      await Promise.allSettled([...timerChains.values()]);
    },
  };
}
