/**
 * The proof-of-possession JWT of `addKey`/`removeKey`, checked as Graph documents it
 * (application-addkey.md; concepts/application-rollkey-prooftoken.md; research graph-entra.md §2.3):
 * `aud` = 00000002-0000-0000-c000-000000000000, `iss` = the object id of the application or service
 * principal being changed, `nbf`/`exp` with a lifetime of at most 10 minutes, signed with the
 * private key of one of the object's existing *valid* certificates. Objects with no valid
 * certificate cannot use these actions ("Use Update application instead").
 *
 * The proof is signed RS256 and names its certificate in an `x5t` header, as Microsoft's sample
 * signs it (concepts/application-rollkey-prooftoken.md: `SigningCredentials(…, "RS256")`, whose
 * JWT handler writes `x5t` and `kid`); the docs describe no other form, so other algorithms and a
 * proof without `x5t` are refused (the strictest reading).
 *
 * A bad proof is answered 401 `Authentication_MissingOrMalformed` "Access Token missing or
 * malformed." — what Graph returns for one (learn.microsoft.com/answers/questions/587303).
 */
import type { VirtualClock } from "../clock.js";
import { decodeJwt, numberClaim, timeWindowHolds, verifyRsaSignature } from "../entra/jwt.js";
import type { StoredKeyCredential } from "../types.js";
import { b64urlToHex, certInfo } from "./certs.js";
import type { DirObject } from "./directory.js";
import { GraphError } from "./graph-error.js";

export const PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000";
const MAX_LIFETIME_SECONDS = 600;
const SKEW_SECONDS = 300;

function malformed(detail: string): GraphError {
  return new GraphError(
    401,
    "Authentication_MissingOrMalformed",
    `Access Token missing or malformed. ${detail}`,
  );
}

/** Throws a GraphError unless `proof` is a valid proof of possession for `o`; returns the signing key. */
export function checkProof(clock: VirtualClock, o: DirObject, proof: unknown): StoredKeyCredential {
  const now = clock.now();
  const valid = o.keyCredentials.filter(
    (k) => Date.parse(k.startDateTime) <= now && now <= Date.parse(k.endDateTime),
  );
  if (valid.length === 0)
    throw malformed(
      `Object '${o.id}' has no valid certificate to prove possession of; use Update application (PATCH keyCredentials) instead.`,
    );
  if (typeof proof !== "string" || !proof) throw malformed("The 'proof' parameter is required.");
  if (proof.includes("=")) throw malformed("The proof must be base64url-encoded without '=' padding.");
  const jwt = decodeJwt(proof);
  if (!jwt) throw malformed("The proof is not a JWT.");
  if (jwt.header.alg !== "RS256")
    throw malformed(`Unsupported proof algorithm '${String(jwt.header.alg)}': sign the proof with RS256.`);
  if (typeof jwt.header.x5t !== "string" || jwt.header.x5t.length === 0)
    throw malformed(
      "The proof's header must carry x5t, the base64url SHA-1 thumbprint of the signing certificate.",
    );
  const p = jwt.payload;
  if (p.aud !== PROOF_AUDIENCE) throw malformed(`The proof's audience must be ${PROOF_AUDIENCE}.`);
  if (String(p.iss ?? "").toLowerCase() !== o.id)
    throw malformed("The proof's issuer must be the object id of the object being changed.");
  const nbf = numberClaim(p, "nbf");
  const exp = numberClaim(p, "exp");
  if (nbf === undefined || exp === undefined) throw malformed("The proof must carry nbf and exp.");
  if (exp - nbf > MAX_LIFETIME_SECONDS) throw malformed("The proof's lifetime must not exceed 10 minutes.");
  if (!timeWindowHolds(clock, nbf, exp, SKEW_SECONDS))
    throw malformed("The proof has expired or is not yet valid.");

  // The signing certificate: the one x5t names (base64url of the SHA-1 thumbprint).
  const thumb = b64urlToHex(jwt.header.x5t);
  const named = o.keyCredentials.filter((k) => certInfo(k.key).sha1Hex === thumb);
  if (named.length === 0) throw malformed("The proof is signed by a key the object does not hold.");
  const candidates = named.filter((k) => valid.includes(k));
  if (candidates.length === 0)
    throw malformed("The proof is signed by a certificate that is expired or not yet valid.");
  const signer = candidates.find((k) => verifyRsaSignature(jwt, certInfo(k.key).publicKey));
  if (!signer)
    throw malformed("The proof's signature does not verify with any valid certificate of the object.");
  return signer;
}
