/** Node HTTP plumbing for serve's routes: bounded body reads, JSON replies, key comparison. */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { bodyTooLarge, declaresTooLarge, MAX_BODY_BYTES } from "../../functions/http-body.js";

/** The body, refused with 413 past MAX_BODY_BYTES (declared or read). */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  if (declaresTooLarge(req.headers["content-length"])) {
    req.resume();
    throw bodyTooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw bodyTooLarge();
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers }).end(text);
}

/** Constant-time comparison of a presented key with the expected one. */
export function keyMatches(given: string | undefined, key: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}
