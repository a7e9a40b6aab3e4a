/**
 * Certificate policies as Key Vault stores and returns them (wire names in snake_case, see
 * kv-monitor-functions.md §2.3/§2.4): parsing with the service's defaults, validation with
 * `BadParameter`, and partial updates.
 */
import { KNOWN_KEY_USAGES, type SubjectAlternativeNames } from "./crypto.js";

export class KvError extends Error {
  override name = "KvError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badParameter = (message: string): KvError => new KvError(400, "BadParameter", message);

export interface LifetimeAction {
  trigger: { lifetime_percentage?: number; days_before_expiry?: number };
  action: { action_type: "AutoRenew" | "EmailContacts" };
}

export interface StoredPolicy {
  key_props: { exportable: boolean; kty: "RSA" | "RSA-HSM"; key_size: number; reuse_key: boolean };
  secret_props: { contentType: "application/x-pkcs12" | "application/x-pem-file" };
  x509_props: {
    subject: string;
    sans: SubjectAlternativeNames;
    ekus: string[];
    key_usage: string[];
    validity_months: number;
    basic_constraints: { ca: boolean };
  };
  lifetime_actions: LifetimeAction[];
  issuer: { name: string; cty?: string; cert_transparency?: boolean };
  attributes: { enabled: boolean; created: number; updated: number };
}

/** serverAuth + clientAuth: what the service fills in when a policy names no EKUs (recording, §2.3). */
export const DEFAULT_EKUS = ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"];
export const DEFAULT_KEY_USAGE = ["digitalSignature", "keyEncipherment"];
const CONTENT_TYPES = ["application/x-pkcs12", "application/x-pem-file"] as const;
const RSA_SIZES = [2048, 3072, 4096];

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw badParameter(`Property ${what} must be an object.`);
  return v as Json;
}

function strings(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string"))
    throw badParameter(`Property ${what} must be an array of strings.`);
  return v as string[];
}

function parseSans(v: unknown): SubjectAlternativeNames {
  const o = obj(v, "x509_props.sans") ?? {};
  const out: SubjectAlternativeNames = {};
  for (const k of ["dns_names", "emails", "upns", "uris", "ipAddresses"] as const) {
    const list = strings(o[k], `x509_props.sans.${k}`);
    if (list && list.length > 0) out[k] = list;
  }
  return out;
}

function parseLifetimeActions(v: unknown, validityMonths: number): LifetimeAction[] {
  if (!Array.isArray(v)) throw badParameter("Property lifetime_actions must be an array.");
  return v.map((raw) => {
    const a = obj(raw, "lifetime_actions[]") ?? {};
    const trigger = obj(a.trigger, "lifetime_actions[].trigger") ?? {};
    const action = obj(a.action, "lifetime_actions[].action") ?? {};
    const type = action.action_type;
    if (type !== "AutoRenew" && type !== "EmailContacts")
      throw badParameter(`Invalid action_type ${String(type)}: expected AutoRenew or EmailContacts.`);
    const pct = trigger.lifetime_percentage;
    const days = trigger.days_before_expiry;
    if ((pct === undefined) === (days === undefined))
      throw badParameter("A lifetime action trigger needs either lifetime_percentage or days_before_expiry.");
    if (pct !== undefined) {
      if (typeof pct !== "number" || !Number.isInteger(pct) || pct < 1 || pct > 99)
        throw badParameter("lifetime_percentage must be an integer between 1 and 99.");
      return { trigger: { lifetime_percentage: pct }, action: { action_type: type } };
    }
    // days_before_expiry must leave part of the lifetime before it (overview-renew-certificate.md).
    const maxDays = Math.floor(validityMonths * 27);
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > maxDays)
      throw badParameter(`days_before_expiry must be an integer between 1 and ${maxDays}.`);
    return { trigger: { days_before_expiry: days }, action: { action_type: type } };
  });
}

/**
 * A policy from a create request (or an existing policy plus a PATCH), with the service's defaults
 * filled in: RSA 2048 exportable, PKCS#12, 12 months, serverAuth+clientAuth, digitalSignature +
 * keyEncipherment, and an 80 % AutoRenew action for `Self` (EmailContacts otherwise), as recorded
 * for a policy that named only issuer and subject (kv-monitor-functions.md §2.3).
 */
export function parsePolicy(raw: unknown, now: number, base?: StoredPolicy): StoredPolicy {
  const p = obj(raw, "policy") ?? {};
  const keyProps = obj(p.key_props, "key_props") ?? {};
  const secretProps = obj(p.secret_props, "secret_props") ?? {};
  const x509Props = obj(p.x509_props, "x509_props") ?? {};
  const issuer = obj(p.issuer, "issuer") ?? {};
  const attributes = obj(p.attributes, "attributes") ?? {};

  const kty = (keyProps.kty as string | undefined) ?? base?.key_props.kty ?? "RSA";
  if (kty !== "RSA" && kty !== "RSA-HSM") {
    throw badParameter(
      `Key type ${kty} is not supported by this vault: certificates here use RSA or RSA-HSM keys.`,
    );
  }
  const keySize = (keyProps.key_size as number | undefined) ?? base?.key_props.key_size ?? 2048;
  if (!RSA_SIZES.includes(keySize))
    throw badParameter(`Invalid key size ${keySize}: RSA keys are 2048, 3072 or 4096 bits.`);
  if (keyProps.curve !== undefined || keyProps.crv !== undefined)
    throw badParameter("A curve name is only valid for EC keys.");
  const exportable = (keyProps.exportable as boolean | undefined) ?? base?.key_props.exportable ?? true;
  const reuseKey = (keyProps.reuse_key as boolean | undefined) ?? base?.key_props.reuse_key ?? false;

  const contentType =
    (secretProps.contentType as string | undefined) ??
    base?.secret_props.contentType ??
    "application/x-pkcs12";
  if (!(CONTENT_TYPES as readonly string[]).includes(contentType))
    throw badParameter(`Invalid content type ${contentType}.`);

  const subject = (x509Props.subject as string | undefined) ?? base?.x509_props.subject ?? "";
  const sans = x509Props.sans !== undefined ? parseSans(x509Props.sans) : (base?.x509_props.sans ?? {});
  const hasSans = Object.values(sans).some((l) => (l as string[]).length > 0);
  if (!subject && !hasSans)
    throw badParameter("The policy must name a subject or subject alternative names.");
  if (subject && !/^\s*[A-Za-z0-9.]+\s*=/.test(subject))
    throw badParameter(`Invalid subject name ${subject}: expected a distinguished name such as CN=example.`);
  const validityMonths =
    (x509Props.validity_months as number | undefined) ?? base?.x509_props.validity_months ?? 12;
  if (!Number.isInteger(validityMonths) || validityMonths < 1 || validityMonths > 1200)
    throw badParameter("validity_months must be an integer between 1 and 1200.");
  const ekus = strings(x509Props.ekus, "x509_props.ekus") ?? base?.x509_props.ekus ?? DEFAULT_EKUS;
  for (const e of ekus) if (!/^\d+(\.\d+)+$/.test(e)) throw badParameter(`Invalid EKU ${e}.`);
  const keyUsage =
    strings(x509Props.key_usage, "x509_props.key_usage") ?? base?.x509_props.key_usage ?? DEFAULT_KEY_USAGE;
  for (const u of keyUsage) if (!KNOWN_KEY_USAGES.includes(u)) throw badParameter(`Invalid key usage ${u}.`);

  const issuerName = (issuer.name as string | undefined) ?? base?.issuer.name ?? "Unknown";
  const cty = (issuer.cty as string | undefined) ?? base?.issuer.cty;
  const certTransparency =
    (issuer.cert_transparency as boolean | undefined) ?? base?.issuer.cert_transparency;

  let lifetimeActions: LifetimeAction[];
  if (p.lifetime_actions !== undefined && p.lifetime_actions !== null) {
    lifetimeActions = parseLifetimeActions(p.lifetime_actions, validityMonths);
  } else if (base) {
    lifetimeActions = base.lifetime_actions;
  } else {
    lifetimeActions = [
      {
        trigger: { lifetime_percentage: 80 },
        action: { action_type: issuerName.toLowerCase() === "self" ? "AutoRenew" : "EmailContacts" },
      },
    ];
  }

  return {
    key_props: { exportable, kty, key_size: keySize, reuse_key: reuseKey },
    secret_props: { contentType: contentType as StoredPolicy["secret_props"]["contentType"] },
    x509_props: {
      subject,
      sans,
      ekus,
      key_usage: keyUsage,
      validity_months: validityMonths,
      basic_constraints: { ca: false },
    },
    lifetime_actions: lifetimeActions,
    issuer: {
      name: issuerName,
      ...(cty !== undefined ? { cty } : {}),
      ...(certTransparency !== undefined ? { cert_transparency: certTransparency } : {}),
    },
    attributes: {
      enabled: (attributes.enabled as boolean | undefined) ?? base?.attributes.enabled ?? true,
      created: base?.attributes.created ?? now,
      updated: now,
    },
  };
}

/** The policy as the service returns it, with its `id`. */
export function policyJson(policy: StoredPolicy, id: string): Record<string, unknown> {
  return { id, ...structuredClone(policy) };
}

export function isSelfIssued(policy: StoredPolicy): boolean {
  return policy.issuer.name.toLowerCase() === "self";
}

/**
 * When an AutoRenew action fires for a version valid from `nbf` to `exp` (epoch seconds), or
 * undefined when the policy has no AutoRenew action.
 */
export function autoRenewAt(policy: StoredPolicy, nbf: number, exp: number): number | undefined {
  const action = policy.lifetime_actions.find((a) => a.action.action_type === "AutoRenew");
  if (!action) return undefined;
  if (action.trigger.lifetime_percentage !== undefined)
    return nbf + Math.floor(((exp - nbf) * action.trigger.lifetime_percentage) / 100);
  if (action.trigger.days_before_expiry !== undefined) return exp - action.trigger.days_before_expiry * 86400;
  return undefined;
}
