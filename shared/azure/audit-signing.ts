/**
 * The audit trail's signed checkpoints, with Rollover's own non-exportable Key Vault key
 * (ROLLOVER_AUDIT_SIGNING_KEY_ID, a versionless key URL such as
 * https://contoso-kv.vault.azure.net/keys/rollover-audit-signing). Signatures are made by Key
 * Vault's `sign` (`@azure/keyvault-keys` CryptographyClient), so the private key never leaves
 * the vault; they are checked here with the key's public JWK (KeyClient `getKey`).
 *
 * Permissions (https://learn.microsoft.com/azure/key-vault/general/rbac-guide):
 *   sign    Microsoft.KeyVault/vaults/keys/sign/action on that key
 *   verify  Microsoft.KeyVault/vaults/keys/read (the public key only)
 */
import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import { CryptographyClient, type JsonWebKey, KeyClient } from "@azure/keyvault-keys";
import type { CheckpointSigner, CheckpointVerifier } from "../audit/ports.js";
import { vaultClientOptions } from "./keyvault.js";

export class SigningKeyError extends Error {
  override name = "SigningKeyError";
}

/** Splits a versionless key URL into vault URL and key name; throws a clear error otherwise. */
export function parseSigningKeyId(keyId: string): { vaultUrl: string; name: string; id: string } {
  let u: URL;
  try {
    u = new URL(keyId);
  } catch {
    throw new SigningKeyError(`ROLLOVER_AUDIT_SIGNING_KEY_ID is not a URL: ${keyId}`);
  }
  const parts = u.pathname.split("/").filter(Boolean);
  if (u.protocol !== "https:" || parts[0]?.toLowerCase() !== "keys" || !parts[1] || parts.length > 2) {
    throw new SigningKeyError(
      "ROLLOVER_AUDIT_SIGNING_KEY_ID must be a versionless key URL, e.g. https://contoso-kv.vault.azure.net/keys/rollover-audit-signing",
    );
  }
  const vaultUrl = `${u.protocol}//${u.host}`;
  return { vaultUrl, name: parts[1], id: `${vaultUrl}/keys/${parts[1]}` };
}

function b64url(b: Uint8Array | undefined): string | undefined {
  return b ? Buffer.from(b).toString("base64url") : undefined;
}

function publicKeyOf(jwk: JsonWebKey): { key: KeyObject; alg: "RS256" | "ES256" } {
  const kty = String(jwk.kty ?? "");
  if (kty.startsWith("RSA")) {
    return {
      key: createPublicKey({ key: { kty: "RSA", n: b64url(jwk.n)!, e: b64url(jwk.e)! }, format: "jwk" }),
      alg: "RS256",
    };
  }
  if (kty.startsWith("EC") && jwk.crv === "P-256") {
    return {
      key: createPublicKey({
        key: { kty: "EC", crv: "P-256", x: b64url(jwk.x)!, y: b64url(jwk.y)! },
        format: "jwk",
      }),
      alg: "ES256",
    };
  }
  throw new SigningKeyError(`the audit signing key must be RSA or EC P-256, it is ${kty} ${jwk.crv ?? ""}`);
}

/** Signs and verifies audit checkpoints with one Key Vault key. */
export class KeyVaultCheckpointKey implements CheckpointSigner, CheckpointVerifier {
  private readonly ref: ReturnType<typeof parseSigningKeyId>;
  private readonly keys: KeyClient;
  private readonly crypto: CryptographyClient;
  private alg?: Promise<"RS256" | "ES256">;
  private readonly publicKeys = new Map<string, Promise<{ key: KeyObject; alg: string }>>();

  constructor(keyId: string, credential: TokenCredential) {
    this.ref = parseSigningKeyId(keyId);
    const options = vaultClientOptions(this.ref.vaultUrl);
    this.keys = new KeyClient(this.ref.vaultUrl, credential, options);
    // Versionless: Key Vault signs with the key's current version and names it in the answer.
    this.crypto = new CryptographyClient(this.ref.id, credential, options);
  }

  async sign(message: Uint8Array): Promise<{ kid: string; alg: string; signature: string }> {
    this.alg ??= this.keys.getKey(this.ref.name).then((k) => publicKeyOf(k.key!).alg);
    this.alg.catch(() => {
      this.alg = undefined;
    });
    const alg = await this.alg;
    const digest = createHash("sha256").update(message).digest();
    const r = await this.crypto.sign(alg, digest);
    return { kid: r.keyID ?? this.ref.id, alg, signature: Buffer.from(r.result).toString("base64url") };
  }

  async verify(message: Uint8Array, c: { kid: string; alg: string; signature: string }): Promise<boolean> {
    // Only a version of the configured key counts: a signature by any other key (another vault,
    // another name) proves nothing, however valid.
    const prefix = `${this.ref.id}/`.toLowerCase();
    if (!c.kid.toLowerCase().startsWith(prefix)) return false;
    const version = c.kid.slice(prefix.length).split("/")[0];
    if (!version) return false;
    let pk = this.publicKeys.get(version);
    if (!pk) {
      pk = this.keys.getKey(this.ref.name, { version }).then((k) => publicKeyOf(k.key!));
      pk.catch(() => this.publicKeys.delete(version));
      this.publicKeys.set(version, pk);
    }
    const { key, alg } = await pk;
    if (alg !== c.alg) return false;
    const signature = Buffer.from(c.signature, "base64url");
    return alg === "RS256"
      ? verify("sha256", message, key, signature)
      : verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
  }
}
