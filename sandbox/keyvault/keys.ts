/**
 * Standalone keys (keys that are not behind a certificate), as Key Vault keeps them: created
 * with `POST /keys/{name}/create`, read with `GET /keys/{name}/{version?}` (the public JWK only)
 * and used with `POST /keys/{name}/{version}/sign`. RSA and RSA-HSM only; never exportable.
 *
 * Sources: Keys - Create Key, Get Key, Sign (KeyVault REST spec keys.json, api-version 7.5);
 * https://learn.microsoft.com/rest/api/keyvault/keys/create-key/create-key
 * https://learn.microsoft.com/rest/api/keyvault/keys/sign/sign
 *
 * Rollover uses one for the audit trail's signed chain heads (`rollover-audit-signing`).
 */
import { randomUUID } from "node:crypto";
import type { VirtualClock } from "../clock.js";
import { generate, type KeyMaterial } from "./crypto.js";
import { badParameter, KvError } from "./policy.js";

export interface StandaloneKeyVersion {
  name: string;
  version: string;
  kty: "RSA" | "RSA-HSM";
  keyOps: string[];
  key: KeyMaterial;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
  tags: Record<string, string>;
}

/** The key operations Key Vault allows on an RSA key. */
const RSA_KEY_OPS = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"];

export class StandaloneKeys {
  private readonly keys = new Map<string, StandaloneKeyVersion[]>();
  constructor(private readonly clock: VirtualClock) {}

  /** `POST /keys/{name}/create`: a new version of the key. */
  async create(name: string, body: Record<string, unknown>): Promise<StandaloneKeyVersion> {
    const kty = body.kty;
    if (kty !== "RSA" && kty !== "RSA-HSM") {
      if (typeof kty === "string" && /^(EC|EC-HSM|oct|oct-HSM)$/.test(kty))
        throw badParameter(`The sandbox's vault creates RSA keys only; kty ${kty} is not supported here.`);
      throw badParameter("Property kty is required and must be one of RSA, RSA-HSM, EC, EC-HSM, oct-HSM.");
    }
    const size = body.key_size === undefined ? 2048 : body.key_size;
    if (size !== 2048 && size !== 3072 && size !== 4096)
      throw badParameter("Property key_size must be 2048, 3072 or 4096 for an RSA key.");
    const ops = body.key_ops === undefined ? RSA_KEY_OPS : body.key_ops;
    if (!Array.isArray(ops) || ops.some((o) => typeof o !== "string" || !RSA_KEY_OPS.includes(o)))
      throw badParameter(`Property key_ops must be a list of ${RSA_KEY_OPS.join(", ")}.`);
    const attributes = (body.attributes ?? {}) as Record<string, unknown>;
    if (attributes.exportable === true)
      throw badParameter("An exportable key needs a release policy; the sandbox does not support it.");
    const tags = (body.tags ?? {}) as Record<string, string>;
    const now = this.clock.nowSeconds();
    const v: StandaloneKeyVersion = {
      name,
      version: randomUUID().replace(/-/g, ""),
      kty,
      keyOps: [...(ops as string[])],
      key: await generate(size as number),
      enabled: attributes.enabled !== false,
      ...(typeof attributes.nbf === "number" ? { nbf: attributes.nbf } : {}),
      ...(typeof attributes.exp === "number" ? { exp: attributes.exp } : {}),
      created: now,
      updated: now,
      tags: { ...tags },
    };
    const list = this.keys.get(name.toLowerCase()) ?? [];
    list.push(v);
    this.keys.set(name.toLowerCase(), list);
    return v;
  }

  /** A version (the newest when `version` is empty); undefined when this store has no such key. */
  find(name: string, version: string | undefined): StandaloneKeyVersion | undefined {
    const list = this.keys.get(name.toLowerCase());
    if (!list) return undefined;
    return version ? list.find((v) => v.version === version) : list.at(-1);
  }

  has(name: string): boolean {
    return this.keys.has(name.toLowerCase());
  }

  reset(): void {
    this.keys.clear();
  }
}

/** KeyBundle: the public JWK only (a private key never leaves Key Vault). */
export function standaloneKeyBundle(url: string, v: StandaloneKeyVersion): Record<string, unknown> {
  return {
    key: {
      kid: `${url}/keys/${v.name}/${v.version}`,
      kty: v.kty,
      key_ops: [...v.keyOps],
      n: v.key.n,
      e: v.key.e,
    },
    attributes: {
      enabled: v.enabled,
      ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
      ...(v.exp !== undefined ? { exp: v.exp } : {}),
      created: v.created,
      updated: v.updated,
      exportable: false,
      recoveryLevel: "Recoverable+Purgeable",
      recoverableDays: 90,
    },
    ...(Object.keys(v.tags).length > 0 ? { tags: { ...v.tags } } : {}),
  };
}

/** The checks of a key operation on a standalone key (the same as on a certificate's key). */
export function usableStandaloneKey(v: StandaloneKeyVersion, op: string, nowSeconds: number): void {
  if (!v.keyOps.includes(op))
    throw new KvError(
      403,
      "Forbidden",
      `Operation ${op} is not permitted on this key.`,
      "KeyOperationForbidden",
    );
  if (!v.enabled)
    throw new KvError(403, "Forbidden", `Operation ${op} is not allowed on a disabled key.`, "KeyDisabled");
  if ((v.nbf !== undefined && nowSeconds < v.nbf) || (v.exp !== undefined && nowSeconds >= v.exp))
    throw new KvError(
      403,
      "Forbidden",
      `Operation ${op} is not allowed on a key outside its validity.`,
      "KeyNotYetValid",
    );
}

const stores = new WeakMap<object, StandaloneKeys>();

/** The standalone keys of a vault (kept beside its certificates, so the store file stays as is). */
export function standaloneKeysOf(vault: object, clock: VirtualClock): StandaloneKeys {
  let s = stores.get(vault);
  if (!s) {
    s = new StandaloneKeys(clock);
    stores.set(vault, s);
  }
  return s;
}
