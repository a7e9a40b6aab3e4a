/**
 * What every function shares: Rollover built once per process from the settings, and one run per
 * invocation with its own audit writer. An invocation ends only after its writer flushed (records
 * sent, or safely spooled in storage); if even the spool fails, the invocation fails and the
 * platform retries it.
 */
import type { AuditEvent, AuditSink, Trigger } from "../shared/audit/events.js";
import { buildRollover, engineFor, type Rollover, sweepDepsFor } from "../shared/app.js";
import type { RotationEngine } from "../shared/rotation/engine.js";
import { safeLine } from "../shared/log.js";
import type { SweepDeps } from "../shared/sweep/run.js";

export interface Runtime {
  env: NodeJS.ProcessEnv;
  /**
   * The clock, when the host imposes one (tests, the in-process demo). Default: the settings'
   * clock (shared/clock.ts), read again before each run: the sandbox's virtual clock when
   * ROLLOVER_SANDBOX_CONTROL_URL is set, else the system's.
   */
  now?: () => number;
  /** Log lines (never key material, secrets or tokens). */
  log: (line: string) => void;
}

export interface Run {
  rollover: Rollover;
  runId: string;
  audit: AuditSink;
  engine: RotationEngine;
  sweepDeps(): SweepDeps;
  now: () => number;
  log: (line: string) => void;
}

const built = new WeakMap<object, Rollover>();

/** Rollover for these settings, built on first use and kept for the process. */
export function rolloverFor(rt: Runtime): Rollover {
  let r = built.get(rt.env);
  if (!r) {
    r = buildRollover(rt.env);
    built.set(rt.env, r);
  }
  return r;
}

/** Without a Logs Ingestion configuration, audit events go to the log (local trials). */
class LogSink implements AuditSink {
  constructor(private readonly log: (line: string) => void) {}
  emit(e: AuditEvent): void {
    this.log(`audit ${e.action} ${e.outcome} ${e.reason}: ${e.message}`);
  }
}

/**
 * The clock for one run: the settings' clock, read again now (the audit writer stamps records
 * with it), unless the host imposes its own.
 */
export async function runClock(rt: Runtime): Promise<() => number> {
  const clock = rolloverFor(rt).clock;
  await clock.sync();
  return rt.now ?? clock.now;
}

export async function withRun<T>(
  rt: Runtime,
  run: { trigger: Trigger; runId: string },
  fn: (run: Run) => Promise<T>,
): Promise<T> {
  const rollover = rolloverFor(rt);
  const now = await runClock(rt);
  const actor = rollover.config.identityObjectId ?? rollover.config.clientId ?? "rollover";
  const log = (line: string) => rt.log(safeLine(line));
  const writer = rollover.audit?.writer({ runId: run.runId, trigger: run.trigger, actor, log });
  const audit: AuditSink = writer ?? new LogSink(log);
  let result: T;
  try {
    result = await fn({
      rollover,
      runId: run.runId,
      audit,
      engine: engineFor(rollover, { audit, now }),
      sweepDeps: () => sweepDepsFor(rollover, { audit, now }),
      now,
      log,
    });
  } finally {
    await writer?.close();
  }
  return result;
}
