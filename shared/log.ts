/**
 * Logging with the redaction guard: every line passes through `redact` (shared/audit/redact.ts)
 * before it is written, so a private key, certificate bundle, JWT or secret that slipped into a
 * message is replaced and counted, never logged. Levels follow ROLLOVER_LOG_LEVEL.
 */
import { redact, redactionCounter } from "./audit/redact.js";
import { SETTINGS } from "./config.js";

export type Level = "error" | "warn" | "info" | "debug";
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(line: string): void;
  warn(line: string): void;
  info(line: string): void;
  debug(line: string): void;
}

export function safeLine(line: string): string {
  return redact(line, { counter: redactionCounter });
}

/** The level ROLLOVER_LOG_LEVEL asks for (its default when unset; loadConfig reports a bad value). */
export function levelFromEnv(env: NodeJS.ProcessEnv = process.env): Level {
  const raw = env[SETTINGS.logLevel.env];
  const r = raw === undefined || raw.trim() === "" ? undefined : SETTINGS.logLevel.parse.safeParse(raw);
  return r?.success ? r.data : SETTINGS.logLevel.default;
}

export function createLogger(
  sink: (level: Level, line: string) => void,
  level: Level = levelFromEnv(),
): Logger {
  const at = (l: Level) => (line: string) => {
    if (ORDER[l] <= ORDER[level]) sink(l, safeLine(line));
  };
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

/** A logger over a Functions invocation context (`log`, `warn`, `error`, `debug`). */
export function contextLogger(
  context: {
    log(...a: unknown[]): void;
    warn(...a: unknown[]): void;
    error(...a: unknown[]): void;
    debug(...a: unknown[]): void;
  },
  level: Level = levelFromEnv(),
): Logger {
  return createLogger((l, line) => {
    if (l === "error") context.error(line);
    else if (l === "warn") context.warn(line);
    else if (l === "debug") context.debug(line);
    else context.log(line);
  }, level);
}
