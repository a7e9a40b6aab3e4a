/**
 * Access tokens the sandbox's Entra issues and its resource servers (Graph, Key Vault, Logs
 * Ingestion) accept: RS256 JWTs signed by a key the sandbox makes at start, published at the
 * tenant's `jwks_uri`. Claims follow Entra's v1 access tokens for app-only callers
 * (`aud`, `iss`, `tid`, `oid`, `appid`, `roles`, `idtyp: app`).
 */
import { randomUUID } from "node:crypto";
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from "jose";
import type { VirtualClock } from "./clock.js";

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  appid: string;
  roles?: string[];
  /** Extra claims (e.g. `xms_mirid`, `idtyp`). */
  [claim: string]: unknown;
}

export interface IssuedToken {
  token: string;
  expiresOn: number;
  /** Seconds until expiry, as the token endpoint reports in `expires_in`. */
  expiresIn: number;
}

export class TokenError extends Error {
  override name = "TokenError";
  constructor(
    message: string,
    readonly reason: "missing" | "malformed" | "signature" | "expired" | "audience",
  ) {
    super(message);
  }
}

export class TokenService {
  private constructor(
    private readonly privateKey: CryptoKey,
    readonly publicJwk: JWK,
    private readonly clock: VirtualClock,
  ) {}

  static async create(clock: VirtualClock): Promise<TokenService> {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = randomUUID().replace(/-/g, "").slice(0, 27);
    return new TokenService(privateKey, { ...jwk, kid, use: "sig", alg: "RS256" }, clock);
  }

  /** The signing key set a tenant's `jwks_uri` returns. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  async issue(claims: AccessTokenClaims, lifetimeSeconds = 3599): Promise<IssuedToken> {
    const now = this.clock.nowSeconds();
    const exp = now + lifetimeSeconds;
    const token = await new SignJWT({ ver: "1.0", idtyp: "app", ...claims })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.publicJwk.kid as string })
      .setIssuedAt(now)
      .setNotBefore(now - 300)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, expiresOn: exp, expiresIn: lifetimeSeconds };
  }

  /**
   * Verifies a token this sandbox issued, on the virtual clock. `audience` accepts the resource
   * URI with or without a trailing slash, as Entra-protected resources do.
   */
  async verify(token: string | undefined, audience: string | string[]): Promise<AccessTokenClaims> {
    if (!token) throw new TokenError("no bearer token", "missing");
    const wanted = (Array.isArray(audience) ? audience : [audience]).flatMap((a) => [
      a.replace(/\/$/, ""),
      `${a.replace(/\/$/, "")}/`,
    ]);
    try {
      // Clients cache tokens on their own (real) clock, which the virtual clock does not move; a
      // token is current when it is current in either frame, so moving the clock forward does not
      // invalidate every cached token at once.
      const key = await this.verificationKey();
      const { payload } = await jwtVerify(token, key, {
        currentDate: new Date(this.clock.now()),
        algorithms: ["RS256"],
      }).catch((e: unknown) => {
        if ((e as { code?: string }).code !== "ERR_JWT_EXPIRED" || this.clock.offset === 0) throw e;
        // Expired on the virtual clock: accept it while it is unexpired on the real clock
        // (exp + offset > virtual now ⟺ exp > real now); nbf is still judged on the virtual clock.
        return jwtVerify(token, key, {
          currentDate: new Date(this.clock.now()),
          clockTolerance: Math.ceil(this.clock.offset / 1000),
          algorithms: ["RS256"],
        });
      });
      const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      if (!aud.some((a) => a !== undefined && wanted.includes(a))) {
        throw new TokenError(`token audience ${String(payload.aud)} is not ${wanted[0]}`, "audience");
      }
      return payload as unknown as AccessTokenClaims;
    } catch (e) {
      if (e instanceof TokenError) throw e;
      const code = (e as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED") throw new TokenError("token expired", "expired");
      if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED")
        throw new TokenError("bad token signature", "signature");
      throw new TokenError(`malformed token: ${(e as Error).message}`, "malformed");
    }
  }

  private publicKeyCache?: Promise<CryptoKey>;
  private verificationKey(): Promise<CryptoKey> {
    this.publicKeyCache ??= importJWK(this.publicJwk, "RS256") as Promise<CryptoKey>;
    return this.publicKeyCache;
  }
}
