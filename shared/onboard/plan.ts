/**
 * Joining and leaving Rollover, decided in pure functions: what `rollover bind`, `unbind` and
 * `migrate-secret` will do, from what was read. No clock, no I/O: the commands gather, these
 * decide, the commands act once.
 *
 * Bad input is refused here, before anything is created, with the option it came from and the
 * fix (`OnboardInputError`, exit code 2 in the CLI).
 */
import {
  type Binding,
  type CertificateVersion,
  type KeyCredential,
  type PasswordCredential,
  TARGET_TYPES,
  type Target,
  type TargetType,
} from "../core/model.js";
import {
  TAG_CLIENT_ID,
  TAG_MODE,
  TAG_TARGET,
  TAG_TARGET_TYPE,
  TAG_TENANT,
  isValidAt,
} from "../core/binding.js";
import { DAY, type EpochMs } from "../core/time.js";

/** A user's mistake in what they asked for: names the option and the fix. */
export class OnboardInputError extends Error {
  override name = "OnboardInputError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(s: string): boolean {
  return GUID.test(s);
}

/**
 * Key Vault object names: 1–127 characters, letters, digits and hyphens, starting with a letter
 * (learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers).
 */
export const CERTIFICATE_NAME = /^[A-Za-z][0-9A-Za-z-]{0,126}$/;

export const KEY_TYPES = ["RSA", "RSA-HSM"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
/** RSA key sizes Key Vault issues certificates with (certificate policy `key_props.key_size`). */
export const KEY_SIZES = [2048, 3072, 4096] as const;
export type KeySize = (typeof KEY_SIZES)[number];
/** Key Vault's range for `x509_props.validity_months`. */
export const MAX_VALIDITY_MONTHS = 1200;

/** What the person typed, as strings (commander gives strings). */
export interface BindInput {
  target: string;
  vault?: string | undefined;
  name?: string | undefined;
  type?: string | undefined;
  tenant?: string | undefined;
  clientId?: string | undefined;
  validityMonths?: string | undefined;
  keyType?: string | undefined;
  keySize?: string | undefined;
  mode?: string | undefined;
}

export interface BindRequest {
  /** An object id, an app id or a display name. */
  target: string;
  vault?: string;
  certificateName?: string;
  targetType?: TargetType;
  tenantId?: string;
  clientId?: string;
  validityMonths: number;
  keyType: KeyType;
  keySize: KeySize;
  mode?: "self" | "managed";
}

/** Checks the options; throws OnboardInputError naming the first bad one. */
export function parseBindInput(i: BindInput): BindRequest {
  const target = i.target.trim();
  if (!target)
    throw new OnboardInputError("<target>", "give an object id, an app id or a display name of the target");
  if (i.name !== undefined && !CERTIFICATE_NAME.test(i.name))
    throw new OnboardInputError(
      "--name",
      `"${i.name}" is not a name Key Vault accepts: use 1–127 letters, digits and hyphens, starting with a letter`,
    );
  let targetType: TargetType | undefined;
  if (i.type !== undefined) {
    targetType = TARGET_TYPES.find((t) => t.toLowerCase() === i.type!.toLowerCase());
    if (!targetType)
      throw new OnboardInputError(
        "--type",
        `"${i.type}" is not a target type; use ${TARGET_TYPES.join(", ")}`,
      );
  }
  if (i.tenant !== undefined && !isGuid(i.tenant))
    throw new OnboardInputError("--tenant", `"${i.tenant}" is not a tenant id (GUID)`);
  if (i.clientId !== undefined && !isGuid(i.clientId))
    throw new OnboardInputError("--client-id", `"${i.clientId}" is not a client (app) id (GUID)`);
  const validityMonths = i.validityMonths === undefined ? 12 : Number(i.validityMonths);
  if (!/^\d+$/.test(i.validityMonths ?? "12") || validityMonths < 1 || validityMonths > MAX_VALIDITY_MONTHS)
    throw new OnboardInputError(
      "--validity-months",
      `"${i.validityMonths}" is not a validity Key Vault accepts; use a whole number of months from 1 to ${MAX_VALIDITY_MONTHS}, e.g. 12`,
    );
  const keyType = KEY_TYPES.find((k) => k.toLowerCase() === (i.keyType ?? "RSA").toLowerCase());
  if (!keyType)
    throw new OnboardInputError("--key-type", `"${i.keyType}" is not supported; use RSA or RSA-HSM`);
  const keySize = KEY_SIZES.find((k) => String(k) === (i.keySize ?? "2048"));
  if (!keySize)
    throw new OnboardInputError(
      "--key-size",
      `"${i.keySize}" is not an RSA size Key Vault issues; use 2048, 3072 or 4096`,
    );
  let mode: "self" | "managed" | undefined;
  if (i.mode !== undefined) {
    const m = i.mode.toLowerCase();
    if (m !== "self" && m !== "managed")
      throw new OnboardInputError(
        "--mode",
        `"${i.mode}" is not a mode; use self or managed (or leave it out)`,
      );
    mode = m;
  }
  return {
    target,
    ...(i.vault !== undefined ? { vault: i.vault } : {}),
    ...(i.name !== undefined ? { certificateName: i.name } : {}),
    ...(targetType ? { targetType } : {}),
    ...(i.tenant !== undefined ? { tenantId: i.tenant.toLowerCase() } : {}),
    ...(i.clientId !== undefined ? { clientId: i.clientId.toLowerCase() } : {}),
    validityMonths,
    keyType,
    keySize,
    ...(mode ? { mode } : {}),
  };
}

/** A certificate name for a target with no --name: its display name, made a valid Key Vault name. */
export function defaultCertificateName(target: Pick<Target, "displayName" | "appId">): string {
  const slug = target.displayName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 120)
    .replace(/-+$/, "");
  return slug || `app-${target.appId.slice(0, 8)}`;
}

/** The one target a name resolves to, or the reason it does not (no match, several matches). */
export function pickTarget(query: string, matches: readonly Target[]): Target {
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0)
    throw new OnboardInputError(
      "<target>",
      `no application, agent identity blueprint or service principal matches "${query}"; give its object id, app id or exact display name (check --type and --tenant)`,
    );
  const list = matches
    .slice(0, 10)
    .map((t) => `${t.displayName} (${t.type}, object id ${t.id}, app id ${t.appId})`)
    .join("; ");
  throw new OnboardInputError(
    "<target>",
    `"${query}" matches ${matches.length} objects: ${list}${matches.length > 10 ? "; …" : ""}. Give the object id instead`,
  );
}

/** The binding tags of a new binding (DESIGN: Key Vault tags are the truth). */
export function bindingTags(
  target: Pick<Target, "id" | "type" | "appId">,
  req: Pick<BindRequest, "tenantId" | "clientId" | "mode">,
  homeTenantId: string,
): Record<string, string> {
  const foreign = req.tenantId !== undefined && req.tenantId !== homeTenantId.toLowerCase();
  // In another tenant Rollover signs in as the target itself, so it needs the target's client id.
  const clientId = req.clientId ?? (foreign ? target.appId : undefined);
  return {
    [TAG_TARGET]: target.id,
    [TAG_TARGET_TYPE]: target.type,
    ...(foreign ? { [TAG_TENANT]: req.tenantId! } : {}),
    ...(clientId ? { [TAG_CLIENT_ID]: clientId } : {}),
    ...(req.mode ? { [TAG_MODE]: req.mode } : {}),
  };
}

/** A certificate of the vault: its name and its newest version's thumbprint, validity and tags. */
export interface VaultCertificate {
  name: string;
  /** SHA-1 thumbprint of the newest version. */
  thumbprint: string;
  notBefore: EpochMs;
  expires: EpochMs;
  enabled: boolean;
  /** The binding these tags declare, if any. */
  binding?: Binding;
}

export type BindPlan =
  | { kind: "alreadyBound"; certificateName: string; message: string }
  | {
      kind: "bind";
      certificateName: string;
      /** Create the certificate (false: it exists, tagged for this target, from an earlier run). */
      create: boolean;
      tags: Record<string, string>;
      /**
       * How the first key goes on: as the target itself, signing with a certificate of the vault
       * it already trusts (no rights needed), or as the person running the command.
       */
      attachAs: { kind: "target"; signWith: VaultCertificate } | { kind: "operator" };
      steps: string[];
    };

export interface BindObservation {
  request: BindRequest;
  target: Target;
  vaultName: string;
  homeTenantId: string;
  /** Certificates of the vault (newest version each). */
  certificates: readonly VaultCertificate[];
  /** Ids of Rollover's own identity: never bound. */
  selfIds: readonly string[];
  /** The longest certificate lifetime the target's app management policy allows, where readable. */
  maxCertificateLifetimeDays?: number;
  now: EpochMs;
}

/** What `bind` will do, or OnboardInputError for a request that cannot go ahead. */
export function planBind(o: BindObservation): BindPlan {
  const { request: req, target } = o;
  if (o.selfIds.includes(target.id) || o.selfIds.includes(target.appId))
    throw new OnboardInputError(
      "<target>",
      "that is Rollover's own identity; Rollover never manages its own credentials",
    );
  const maxDays = o.maxCertificateLifetimeDays;
  if (maxDays !== undefined && req.validityMonths * 31 > maxDays)
    throw new OnboardInputError(
      "--validity-months",
      `${req.validityMonths} months is longer than the target's app management policy allows (${maxDays} days); Graph would refuse the key. Use --validity-months ${Math.max(1, Math.floor(maxDays / 31))} or less`,
    );
  const boundHere = o.certificates.filter((c) => c.binding?.targetId === target.id);
  const name = req.certificateName ?? boundHere[0]?.name ?? defaultCertificateName(target);
  const byName = o.certificates.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (byName && byName.binding?.targetId !== target.id) {
    const what = byName.binding
      ? `binds another target (${byName.binding.targetId})`
      : "is not a binding (no rollover-* tags)";
    throw new OnboardInputError(
      "--name",
      `a certificate named ${byName.name} already exists in ${o.vaultName} and ${what}; choose another --name`,
    );
  }
  if (req.certificateName && boundHere.length > 0 && !byName)
    throw new OnboardInputError(
      "--name",
      `${target.displayName} is already bound by ${boundHere.map((c) => c.name).join(", ")} in ${o.vaultName}; run bind without --name (or with that name), or unbind it first`,
    );
  const tags = bindingTags(target, req, o.homeTenantId);
  const trusted = trustedCertificate(o.certificates, target, o.now, byName?.name);
  if (byName) {
    const onTarget = target.keyCredentials.some((k) => k.thumbprint === byName.thumbprint);
    if (onTarget)
      return {
        kind: "alreadyBound",
        certificateName: byName.name,
        message: `${o.vaultName}/${byName.name} already binds ${target.displayName} (${target.id}) and its key is on the target; nothing changed`,
      };
  }
  const attachAs = trusted
    ? ({ kind: "target", signWith: trusted } as const)
    : ({ kind: "operator" } as const);
  const steps = [
    ...(byName
      ? [
          `use the existing certificate ${o.vaultName}/${name} (an earlier bind stopped before its key was on the target)`,
        ]
      : [
          `create certificate ${o.vaultName}/${name}: self-signed, ${req.keyType} ${req.keySize}, non-exportable key, ${req.validityMonths} months, Key Vault e-mails and Rollover renews`,
          `tag it ${Object.entries(tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")}`,
        ]),
    attachAs.kind === "target"
      ? `add its public key to ${target.displayName} as the target itself (addKey, proof signed in Key Vault by ${trusted!.name}); no rights needed`
      : `add its public key to ${target.displayName} as you (PATCH keyCredentials; needs Application Administrator or ownership of the target)`,
    "get a token with the new certificate to prove it works",
  ];
  return { kind: "bind", certificateName: name, create: !byName, tags, attachAs, steps };
}

/**
 * A certificate of the vault whose newest version the target already trusts (a valid key on the
 * target with its thumbprint), so the target can add the new key itself: self mode needs no rights.
 */
export function trustedCertificate(
  certificates: readonly VaultCertificate[],
  target: Target,
  now: EpochMs,
  exclude?: string,
): VaultCertificate | undefined {
  return certificates.find(
    (c) =>
      c.name !== exclude &&
      c.enabled &&
      c.notBefore <= now &&
      now < c.expires &&
      target.keyCredentials.some((k) => k.thumbprint === c.thumbprint && isValidAt(k, now)),
  );
}

// --- unbind -----------------------------------------------------------------------------------

/** Last sign-in per keyId (epoch ms), or why it is unknown. */
export type SignInView =
  | { available: true; lastSignIn: Record<string, number> }
  | { available: false; detail: string };

export interface UnbindPlan {
  /** The keys on the target that versions of this certificate back (what Rollover attached). */
  keys: KeyCredential[];
  /** Remove them as the target (a valid one signs the proof), else as the person running it. */
  removeAs: { kind: "target"; signWith: CertificateVersion } | { kind: "operator" };
  /** Versions to disable (oldest first; Key Vault keeps them) and untag. */
  versions: CertificateVersion[];
  steps: string[];
}

/** Keys used to sign in more recently than this are taken to be in use. */
export const RECENT_SIGN_IN_DAYS = 30;

export function planUnbind(o: {
  binding: Binding;
  versions: readonly CertificateVersion[];
  target: Target | undefined;
  signIns: SignInView;
  force: boolean;
  now: EpochMs;
  recentDays?: number;
}): UnbindPlan {
  const thumbs = new Set(o.versions.map((v) => v.thumbprint));
  const keys = (o.target?.keyCredentials ?? []).filter((k) => k.thumbprint && thumbs.has(k.thumbprint));
  if (keys.length > 0 && !o.force) {
    if (!o.signIns.available)
      throw new OnboardInputError(
        "--force",
        `sign-in data is not readable (${o.signIns.detail}), so Rollover cannot tell whether ${o.target?.displayName} still signs in with ${keys.length === 1 ? "its key" : `its ${keys.length} keys`}; make sure it does not, then add --force`,
      );
    const days = o.recentDays ?? RECENT_SIGN_IN_DAYS;
    const recent = keys.filter((k) => {
      const at = (o.signIns as { lastSignIn: Record<string, number> }).lastSignIn[k.keyId];
      return at !== undefined && o.now - at < days * DAY;
    });
    if (recent.length > 0) {
      const k = recent[0]!;
      const at = new Date(
        (o.signIns as { lastSignIn: Record<string, number> }).lastSignIn[k.keyId]!,
      ).toISOString();
      throw new OnboardInputError(
        "--force",
        `key ${k.keyId} (thumbprint ${k.thumbprint}) signed in at ${at}, within the last ${days} days: the service still uses it. Move the service to another credential first, or add --force`,
      );
    }
  }
  const now = o.now;
  const signer = [...o.versions]
    .filter((v) => v.enabled && v.notBefore <= now && now < v.expires)
    .sort((a, b) => b.created - a.created)
    .find((v) => keys.some((k) => k.thumbprint === v.thumbprint && isValidAt(k, now)));
  const versions = [...o.versions].sort((a, b) => a.created - b.created);
  const removeAs = signer ? ({ kind: "target", signWith: signer } as const) : ({ kind: "operator" } as const);
  const who =
    removeAs.kind === "target" ? "as the target itself (removeKey)" : "as you (PATCH keyCredentials)";
  const steps = [
    ...(keys.length > 0
      ? [
          `remove ${keys.length} key(s) Rollover attached from ${o.target?.displayName} ${who}: ${keys.map((k) => k.keyId).join(", ")}`,
        ]
      : [`no key of this certificate is on the target${o.target ? "" : " (the target does not exist)"}`]),
    `remove the rollover-* tags from ${versions.length} version(s) and disable them (Key Vault keeps them)`,
  ];
  return { keys, removeAs, versions, steps };
}

// --- migrate-secret ---------------------------------------------------------------------------

export type MigrationState =
  /** Sign-in data is not readable: whether the service switched is unknown. */
  | { state: "unknown"; detail: string }
  /** No sign-in with the certificate yet (or the secrets were used after it). */
  | { state: "notSwitched"; detail: string }
  /** The certificate signs in, and no secret has since. */
  | { state: "switched"; detail: string }
  /** No client secret left: nothing to migrate. */
  | { state: "done"; detail: string };

/** How long after Rollover's own verification a certificate sign-in is taken to be Rollover's. */
export const VERIFY_SIGN_IN_MARGIN_MS = 10 * 60_000;

/**
 * Has a service moved from its client secrets to the bound certificate? Switched when the
 * certificate's keys have signed in and no secret has signed in since the first such sign-in.
 */
export function migrationState(o: {
  target: Target;
  certificateThumbprints: ReadonlySet<string>;
  signIns: SignInView;
  /**
   * When Rollover itself last proved the certificate with a token (bind, or a rotation's
   * verify): certificate sign-ins up to VERIFY_SIGN_IN_MARGIN_MS after it are Rollover's own,
   * not the service's.
   */
  rolloverVerifiedAt?: EpochMs;
}): MigrationState {
  const secrets = o.target.passwordCredentials;
  if (secrets.length === 0) return { state: "done", detail: "the target holds no client secret" };
  if (!o.signIns.available)
    return { state: "unknown", detail: `sign-in data is not readable (${o.signIns.detail})` };
  const last = o.signIns.lastSignIn;
  const certKeys = o.target.keyCredentials.filter(
    (k) => k.thumbprint && o.certificateThumbprints.has(k.thumbprint),
  );
  const ownUntil =
    o.rolloverVerifiedAt === undefined ? undefined : o.rolloverVerifiedAt + VERIFY_SIGN_IN_MARGIN_MS;
  const certLast = max(
    certKeys
      .map((k) => last[k.keyId])
      .filter((t) => t === undefined || ownUntil === undefined || t > ownUntil),
  );
  const secretLast = max(secrets.map((p) => last[p.keyId]));
  const fmt = (t: number | undefined) => (t === undefined ? "never" : new Date(t).toISOString());
  if (certLast === undefined)
    return {
      state: "notSwitched",
      detail: `no sign-in by the service with the certificate yet; last sign-in with a secret: ${fmt(secretLast)}`,
    };
  if (secretLast !== undefined && secretLast >= certLast)
    return {
      state: "notSwitched",
      detail: `a secret signed in at ${fmt(secretLast)}, after the certificate (${fmt(certLast)})`,
    };
  return {
    state: "switched",
    detail: `the certificate signs in (last ${fmt(certLast)}); last sign-in with a secret: ${fmt(secretLast)}`,
  };
}

/** The secrets `--remove-secrets` removes: all of them, only once the service has switched. */
export function secretsToRemove(state: MigrationState, target: Target): PasswordCredential[] {
  if (state.state !== "switched") {
    throw new OnboardInputError(
      "--remove-secrets",
      state.state === "unknown"
        ? `${state.detail}; Rollover cannot tell whether ${target.displayName} still uses its secrets, so it removes none. Remove them yourself once you are sure`
        : state.state === "done"
          ? "the target holds no client secret; nothing to remove"
          : `${target.displayName} has not switched to the certificate yet (${state.detail}); secrets are never removed while the service may use them`,
    );
  }
  return target.passwordCredentials;
}

function max(xs: readonly (number | undefined)[]): number | undefined {
  let m: number | undefined;
  for (const x of xs) if (x !== undefined && (m === undefined || x > m)) m = x;
  return m;
}
