/** Time in the core is epoch milliseconds: plain numbers, passed in, never read from a clock. */
export type EpochMs = number;

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Parses an ISO 8601 timestamp strictly; `undefined` for anything else. */
export function parseInstant(value: unknown): EpochMs | undefined {
  if (typeof value !== "string") return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export function iso(ms: EpochMs): string {
  return new Date(ms).toISOString();
}
