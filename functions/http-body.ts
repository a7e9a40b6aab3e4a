/**
 * The bodies Rollover's HTTP entry points accept — the alert webhook (remediateAlert) and every
 * route of `rollover serve` — and how they refuse the rest: at most 1 MiB (Azure Monitor sends at
 * most 256 KB), not empty, valid JSON. A refusal is an HttpError: its status and a one-line
 * reason, and nothing changed.
 */

/** Largest request body read. */
export const MAX_BODY_BYTES = 1024 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** 413 for a body of more than MAX_BODY_BYTES bytes. */
export function bodyTooLarge(): HttpError {
  return new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
}

/** Whether a request's Content-Length already says its body is too large. */
export function declaresTooLarge(contentLength: string | null | undefined): boolean {
  return Number(contentLength ?? "0") > MAX_BODY_BYTES;
}

/** The body's JSON; 400 when it is empty (`what` says what was expected) or not JSON. */
export function parseJsonBody(text: string, what: string): unknown {
  if (!text.trim()) throw new HttpError(400, `empty body: expected ${what}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the body is not valid JSON");
  }
}
