/** Error text that can be shown and recorded: one line, secret-free. */
import { redact, redactionCounter } from "./audit/redact.js";

/**
 * A one-line, secret-free summary of an error: HTTP status, service code, and the service's own
 * message (on one line, at most 300 characters, through the redaction guard), so a 403 says
 * which permission was missing.
 */
export function errorSummary(e: unknown): string {
  const err = e as { statusCode?: number; code?: string; message?: string; name?: string };
  const parts: string[] = [];
  if (err.statusCode) parts.push(`HTTP ${err.statusCode}`);
  if (err.code && typeof err.code === "string") parts.push(err.code);
  // All lines, joined: Key Vault names the missing action on a later line of its 403.
  const first = String(err.message ?? (parts.length ? "" : String(e)))
    .replace(/\s*[\r\n]+\s*/g, " ")
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, "[jwt]")
    .trim();
  const message = redact(first, { counter: redactionCounter }).slice(0, 300);
  const head = parts.join(" ");
  if (!message || message === err.code) return head || "error";
  return head ? `${head}: ${message}` : message;
}
