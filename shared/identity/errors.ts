/**
 * Errors EntraAgentId throws. Every message names what was wrong (the option, the file, the
 * Entra error code) and the fix; none carries token, key or secret text — text that comes from
 * elsewhere (an Entra error description, a file parser) goes through `redact` first.
 */

export type EntraAgentIdErrorCode =
  /** An option is missing, unknown or malformed. */
  | "invalid_options"
  /** A certificate file or PEM string cannot be used (missing, no key, key mismatch, unreadable). */
  | "invalid_certificate"
  /** The Key Vault certificate cannot be read or used. */
  | "key_vault"
  /** Entra refused the credential or the request (`aadsts` says why). */
  | "authentication_failed"
  /** A background refresh failed; surfaced on the next call. `cause` holds the failure. */
  | "refresh_failed"
  /** `close()` was called. */
  | "closed";

export class EntraAgentIdError extends Error {
  override name = "EntraAgentIdError";
  /** The AADSTS code Entra answered with, when there is one. */
  readonly aadsts: number | undefined;
  constructor(
    readonly code: EntraAgentIdErrorCode,
    message: string,
    options: { cause?: unknown; aadsts?: number } = {},
  ) {
    super(redact(message), options.cause === undefined ? undefined : { cause: safeCause(options.cause) });
    this.aadsts = options.aadsts;
  }
}

/**
 * AADSTS codes that mean "this certificate is not (or no longer) good here" — the ones after which
 * reloading the certificate can help. Microsoft.Identity.Web reloads on the same set
 * (SignedAssertionInvalidTimeRange, CertificateHasBeenRevoked, CertificateIsOutsideValidityWindow,
 * ClientAssertionContainsInvalidSignature, CertificateWasRevoked) plus signature failure.
 */
export const CERTIFICATE_ERROR_CODES: ReadonlySet<number> = new Set([
  700027, // Client assertion failed signature validation (key not found, expired, wrong key)
  700024, // Client assertion is not within its valid time range
  7000214, // Certificate has been revoked
  1000502, // Certificate is outside its validity window
  7000274, // Client assertion contains an invalid signature
  7000277, // Certificate was revoked
  500133, // Assertion is not within its valid time range
  50012, // Authentication failed (thumbprint / SN+I not authorized)
  700030, // SN+I: certificate subject not authorized
]);

/** The first AADSTS code in an error's message or its OAuth error body, if any. */
export function aadstsOf(error: unknown): number | undefined {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    const codes = (e as { errorResponse?: { errorCodes?: unknown } }).errorResponse?.errorCodes;
    if (Array.isArray(codes) && typeof codes[0] === "number") return codes[0];
    const text = `${(e as { message?: unknown }).message ?? ""} ${
      (e as { errorResponse?: { errorDescription?: unknown } }).errorResponse?.errorDescription ?? ""
    } ${(e as { errorMessage?: unknown }).errorMessage ?? ""}`;
    const m = /AADSTS(\d{5,8})/.exec(text);
    if (m?.[1]) return Number(m[1]);
    if ((e as EntraAgentIdError).aadsts !== undefined) return (e as EntraAgentIdError).aadsts;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isCertificateError(error: unknown): boolean {
  const code = aadstsOf(error);
  return code !== undefined && CERTIFICATE_ERROR_CODES.has(code);
}

/**
 * Removes anything that looks like a JWT, a PEM block or a long base64 run from text that will go
 * into an error message or a log line.
 */
export function redact(text: string): string {
  return text
    .replace(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g, "[redacted PEM]")
    .replace(/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, "[redacted JWT]")
    .replace(/(client_secret|client_assertion|access_token|assertion)=([^&\s]+)/gi, "$1=[redacted]")
    .replace(/[A-Za-z0-9+/_-]{120,}={0,2}/g, "[redacted]");
}

/** A short, safe description of a failure, for wrapping. */
export function describe(error: unknown): string {
  if (error instanceof Error) return redact(error.message.split(/\r?\n/)[0] ?? error.message);
  return redact(String(error));
}

/**
 * A copy of an underlying error that is safe to keep as `cause`: SDK errors carry the request
 * they failed on, Authorization header included, which error reporters print. Kept: name,
 * redacted message, status and codes, the OAuth error body, and the (likewise copied) cause.
 */
export function safeCause(error: unknown, depth = 0): Error {
  if (error instanceof EntraAgentIdError) return error;
  const e = error as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    statusCode?: unknown;
    errorCode?: unknown;
    errorResponse?: unknown;
    cause?: unknown;
  };
  const copy = new Error(redact(typeof e?.message === "string" ? e.message : String(error))) as Error &
    Record<string, unknown>;
  if (typeof e?.name === "string") copy.name = e.name;
  for (const k of ["code", "statusCode", "errorCode"] as const)
    if (typeof e?.[k] === "string" || typeof e?.[k] === "number") copy[k] = e[k];
  const r = e?.errorResponse as Record<string, unknown> | undefined;
  if (r && typeof r === "object")
    copy.errorResponse = {
      error: r.error,
      errorDescription: typeof r.errorDescription === "string" ? redact(r.errorDescription) : undefined,
      errorCodes: r.errorCodes,
      correlationId: r.correlationId,
      traceId: r.traceId,
    };
  if (e?.cause !== undefined && depth < 4) copy.cause = safeCause(e.cause, depth + 1);
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}
