/**
 * Compact-JWS helpers shared by the token endpoint (client assertions) and Graph (addKey/removeKey
 * proofs): decoding, RS256/PS256 signature checks against a certificate's public key, and time
 * windows.
 *
 * Time windows of client-made JWTs are judged in two frames: the virtual clock and the real one.
 * Clients (MSAL, Rollover) stamp `nbf`/`exp` from their own clock, which the sandbox's virtual
 * clock does not move; a JWT is accepted when it is current in either frame, so moving the
 * virtual clock forward does not make every fresh assertion look stale. Key validity (the
 * certificate's `startDateTime`/`endDateTime`) is always judged on the virtual clock.
 */
import { constants, type KeyObject, verify } from "node:crypto";
import type { VirtualClock } from "../clock.js";

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

/** Decodes a compact JWS; `undefined` when it is not one. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(h) || !/^[A-Za-z0-9_-]+$/.test(p) || !/^[A-Za-z0-9_-]*$/.test(s))
    return undefined;
  try {
    const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as unknown;
    const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as unknown;
    if (!isRecord(header) || !isRecord(payload)) return undefined;
    return {
      header,
      payload,
      signingInput: Buffer.from(`${h}.${p}`, "ascii"),
      signature: Buffer.from(s, "base64url"),
    };
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Verifies an RS256 or PS256 signature (PSS with salt = digest length, as RFC 7518 §3.5 says). */
export function verifyRsaSignature(jwt: DecodedJwt, key: KeyObject): boolean {
  const alg = jwt.header.alg;
  try {
    if (alg === "RS256") return verify("sha256", jwt.signingInput, key, jwt.signature);
    if (alg === "PS256")
      return verify(
        "sha256",
        jwt.signingInput,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        jwt.signature,
      );
  } catch {
    return false;
  }
  return false;
}

/** Seconds since the epoch on the clock the client most likely used (the real one). */
export function realNowSeconds(clock: VirtualClock): number {
  return Math.floor((clock.now() - clock.offset) / 1000);
}

/**
 * Whether `[nbf, exp]` holds now, with `skewSeconds` of tolerance, in the virtual or the real
 * frame (see the module comment).
 */
export function timeWindowHolds(
  clock: VirtualClock,
  nbf: number | undefined,
  exp: number | undefined,
  skewSeconds: number,
): boolean {
  const holds = (now: number) =>
    (exp === undefined || now <= exp + skewSeconds) && (nbf === undefined || now >= nbf - skewSeconds);
  return holds(clock.nowSeconds()) || holds(realNowSeconds(clock));
}

export function numberClaim(payload: Record<string, unknown>, name: string): number | undefined {
  const v = payload[name];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
