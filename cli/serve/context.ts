/**
 * What every room of `rollover serve` shares, passed in explicitly: the function definitions,
 * Rollover built from the settings, the log, one way to invoke a function (counted, so `idle()`
 * can tell when nothing runs), and the shutdown signal.
 */
import { randomUUID } from "node:crypto";
import azureFunctions from "@azure/functions";
import type { FunctionDefinition } from "../../functions/definitions.js";
import type { Rollover } from "../../shared/app.js";

// @azure/functions is CommonJS whose named exports Node's ESM loader cannot see: take the
// classes from the default export.
const { InvocationContext } = azureFunctions;
export type InvocationContext = InstanceType<typeof InvocationContext>;

export type TimerDefinition = Extract<FunctionDefinition, { trigger: "timer" }>;
export type QueueDefinition = Extract<FunctionDefinition, { trigger: "storageQueue" }>;
export type HttpDefinition = Extract<FunctionDefinition, { trigger: "http" }>;

export interface ServeContext {
  readonly defs: readonly FunctionDefinition[];
  /** A definition by name, case-insensitive as the host's. */
  byName(name: string): FunctionDefinition | undefined;
  readonly rollover: Rollover;
  readonly log: (line: string) => void;
  /** Runs one invocation with its own InvocationContext (logging through `log`). */
  invoke<T>(name: string, f: (ctx: InvocationContext) => Promise<T>): Promise<T>;
  /** How many invocations run now. */
  running(): number;
  /** Aborted when serve closes: timers stop arming, queue loops stop polling. */
  readonly signal: AbortSignal;
}

export function serveContext(parts: {
  defs: readonly FunctionDefinition[];
  rollover: Rollover;
  log: (line: string) => void;
  signal: AbortSignal;
}): ServeContext {
  const { defs, rollover, log, signal } = parts;
  const byName = new Map(defs.map((d) => [d.name.toLowerCase(), d]));
  let running = 0;

  function context(name: string): InvocationContext {
    return new InvocationContext({
      invocationId: randomUUID(),
      functionName: name,
      logHandler: (level, ...args) =>
        log(`[${name}] ${level === "information" ? "" : `${level}: `}${args.map(String).join(" ")}`),
    });
  }

  return {
    defs,
    byName: (name) => byName.get(name.toLowerCase()),
    rollover,
    log,
    async invoke<T>(name: string, f: (ctx: InvocationContext) => Promise<T>): Promise<T> {
      running += 1;
      try {
        return await f(context(name));
      } finally {
        running -= 1;
      }
    },
    running: () => running,
    signal,
  };
}
