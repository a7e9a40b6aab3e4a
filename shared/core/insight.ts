/**
 * Insight: findings the sweep adds from what the tenant knows beyond the credentials themselves —
 * when each credential last signed in, the app management policies Graph enforces, and which
 * applications hold high-privilege application permissions. Pure: the edge reads the facts
 * (shared/azure/signins.ts, policies.ts, privileges.ts) into the plain values below; each fact is
 * optional, and a fact that could not be read is `available: false` with the reason, never an error.
 */
import type { KeyCredential, PasswordCredential, Target } from "./model.js";
import { Reason, type ReasonCode } from "./reasons.js";
import { DAY, type EpochMs } from "./time.js";

/** Last sign-in per credential keyId (lower case), from the credential activity report. */
export type SignInFacts =
  | { available: true; lastSignIn: Readonly<Record<string, EpochMs>> }
  | { available: false; detail: string };

/** The restrictions of an app management policy that Rollover applies (all optional). */
export interface Restrictions {
  /** Adding client secrets is blocked. */
  passwordAddition?: boolean;
  /** Longest lifetime of a new client secret. */
  passwordLifetimeMs?: number;
  /** Longest lifetime of a new certificate (asymmetric key). */
  keyLifetimeMs?: number;
}

/**
 * The tenant's app management policies: the default policy's restrictions for applications and
 * for service principals, and the restrictions of the policy assigned to an object (by object
 * id), which replace the default for that object (Graph: an app policy takes precedence).
 */
export type PolicyFacts =
  | {
      available: true;
      applications: Restrictions;
      servicePrincipals: Restrictions;
      byObjectId: Readonly<Record<string, Restrictions>>;
    }
  | { available: false; detail: string };

/** Application permissions (Microsoft Graph app role names) held, by the holder's appId. */
export type PrivilegeFacts =
  | { available: true; rolesByAppId: Readonly<Record<string, readonly string[]>> }
  | { available: false; detail: string };

export interface InsightFacts {
  signIns?: SignInFacts;
  policies?: PolicyFacts;
  privileges?: PrivilegeFacts;
}

export interface InsightPolicy {
  /** A credential with no sign-in for this long is unused (ROLLOVER_UNUSED_AFTER_DAYS). */
  unusedAfterMs: number;
  /** In `remove` mode, also remove valid credentials that are unused (ROLLOVER_REMOVE_UNUSED). */
  removeUnused: boolean;
  /** Application permissions that make a credential powerful (ROLLOVER_HIGH_PRIVILEGE_PERMISSIONS). */
  highPrivilegePermissions: readonly string[];
  /** Credentials valid longer than this count as long-lived (the sweep's maximum lifetime). */
  maxLifetimeMs: number;
}

export const DEFAULT_HIGH_PRIVILEGE_PERMISSIONS = [
  "Application.ReadWrite.All",
  "AppRoleAssignment.ReadWrite.All",
  "Directory.ReadWrite.All",
  "RoleManagement.ReadWrite.Directory",
] as const;

/** A finding about one credential, as the sweep reports it (see sweep.ts `Finding`). */
export interface CredentialFinding {
  reason: ReasonCode;
  credential: "key" | "secret";
  keyId: string;
  thumbprint?: string;
  start: EpochMs;
  end: EpochMs;
  message: string;
}

/** Findings that concern the whole run, not one credential (e.g. missing optional permissions). */
export interface RunFinding {
  reason: ReasonCode;
  message: string;
}

/** How findings are ordered in reports: the most severe first. */
export const SEVERITY_ORDER: readonly ReasonCode[] = [Reason.HighPrivilegeCredential];

type Cred = { kind: "key" | "secret"; c: KeyCredential | PasswordCredential };

function creds(t: Target): Cred[] {
  return [
    ...t.keyCredentials.map((c) => ({ kind: "key" as const, c })),
    ...t.passwordCredentials.map((c) => ({ kind: "secret" as const, c })),
  ];
}

const days = (ms: number) => Math.round(ms / DAY);

/** The restrictions that apply to a target: its own policy's, else the tenant default for its side. */
export function restrictionsFor(t: Target, p: PolicyFacts | undefined): Restrictions | undefined {
  if (!p?.available) return undefined;
  return (
    p.byObjectId[t.id.toLowerCase()] ?? (t.type === "servicePrincipal" ? p.servicePrincipals : p.applications)
  );
}

/** The roles in `highPrivilege` that the target holds (through its service principal's appId). */
export function highPrivilegeRoles(
  t: Target,
  p: PrivilegeFacts | undefined,
  highPrivilege: readonly string[],
): string[] {
  if (!p?.available) return [];
  const held = p.rolesByAppId[t.appId.toLowerCase()] ?? [];
  const wanted = new Set(highPrivilege.map((r) => r.toLowerCase()));
  return [...new Set(held.filter((r) => wanted.has(r.toLowerCase())))].sort();
}

/** Insight findings for one target. */
export function insightFindings(
  t: Target,
  facts: InsightFacts,
  policy: InsightPolicy,
  now: EpochMs,
): CredentialFinding[] {
  const out: CredentialFinding[] = [];
  const restrictions = restrictionsFor(t, facts.policies);
  const powerful = highPrivilegeRoles(t, facts.privileges, policy.highPrivilegePermissions);
  // Any valid secret counts; a certificate counts when it lives longer than the sweep's maximum
  // or the app management policy's asymmetricKeyLifetime, whichever is shorter.
  const lifetimeLimit = Math.min(
    policy.maxLifetimeMs,
    restrictions?.keyLifetimeMs ?? Number.POSITIVE_INFINITY,
  );
  for (const { kind, c } of creds(t)) {
    const f = (reason: ReasonCode, message: string): CredentialFinding => ({
      reason,
      credential: kind,
      keyId: c.keyId,
      ...("thumbprint" in c && c.thumbprint ? { thumbprint: c.thumbprint } : {}),
      start: c.start,
      end: c.end,
      message,
    });
    const valid = c.start <= now && now < c.end;
    if (powerful.length > 0 && valid) {
      const life = c.end - c.start;
      if (kind === "secret")
        out.push(
          f(Reason.HighPrivilegeCredential, `a client secret on an identity holding ${powerful.join(", ")}`),
        );
      else if (life > lifetimeLimit)
        out.push(
          f(
            Reason.HighPrivilegeCredential,
            `valid for ${days(life)} days (more than ${days(lifetimeLimit)}) on an identity holding ${powerful.join(", ")}`,
          ),
        );
    }
    if (facts.signIns?.available && valid) {
      const last = facts.signIns.lastSignIn[c.keyId.toLowerCase()];
      if (last !== undefined) {
        if (now - last >= policy.unusedAfterMs)
          out.push(f(Reason.CredentialUnused, `no sign-in for ${days(now - last)} days`));
      } else if (now - c.start >= policy.unusedAfterMs) {
        out.push(
          f(
            Reason.CredentialNeverUsed,
            `no sign-in recorded in the ${days(now - c.start)} days since it was added`,
          ),
        );
      }
    }
    if (kind === "secret" && restrictions && valid) {
      if (restrictions.passwordAddition)
        out.push(
          f(
            Reason.SecretRestrictedByPolicy,
            "app management policy blocks adding client secrets to this object",
          ),
        );
      else if (
        restrictions.passwordLifetimeMs !== undefined &&
        c.end - c.start > restrictions.passwordLifetimeMs
      )
        out.push(
          f(
            Reason.SecretRestrictedByPolicy,
            `valid for ${days(c.end - c.start)} days; app management policy allows new secrets ${days(restrictions.passwordLifetimeMs)}`,
          ),
        );
    }
  }
  return out;
}

/** Findings about the run: optional facts that could not be read (one each per run). */
export function runFindings(facts: InsightFacts): RunFinding[] {
  const out: RunFinding[] = [];
  if (facts.signIns && !facts.signIns.available)
    out.push({ reason: Reason.SignInDataUnavailable, message: facts.signIns.detail });
  if (facts.policies && !facts.policies.available)
    out.push({ reason: Reason.PolicyDataUnavailable, message: facts.policies.detail });
  return out;
}

/** Whether a finding makes its (valid) credential a removal candidate as unused. */
export function isUnusedFinding(reason: ReasonCode): boolean {
  return reason === Reason.CredentialUnused || reason === Reason.CredentialNeverUsed;
}

/** Orders findings for reports: the most severe reasons first, otherwise as given (stable). */
export function orderFindings<F extends { reason: ReasonCode }>(findings: readonly F[]): F[] {
  const rank = (r: ReasonCode) => {
    const i = SEVERITY_ORDER.indexOf(r);
    return i < 0 ? SEVERITY_ORDER.length : i;
  };
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f.reason) - rank(b.f.reason) || a.i - b.i)
    .map((x) => x.f);
}

/** Key Vault backdates a new certificate's notBefore by about ten minutes (research kv-monitor-functions.md). */
const KEY_VAULT_BACKDATE_MS = 10 * 60_000;

/** The validity of a certificate Key Vault issues now for `months` (calendar months, UTC). */
export function issuedValidityMs(months: number, now: EpochMs): number {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.getTime() - now + KEY_VAULT_BACKDATE_MS;
}

/**
 * Before `renew`: would Graph refuse the certificate Key Vault is about to issue? The limit is
 * the target's `asymmetricKeyLifetime` restriction; Key Vault's policy gives the validity
 * (calendar months from now, notBefore backdated). Returns the refusal message, or undefined
 * when the renewal may go ahead.
 */
export function renewalPolicyRefusal(
  validityMonths: number | undefined,
  keyLifetimeMs: number | undefined,
  now: EpochMs,
): string | undefined {
  if (validityMonths === undefined || keyLifetimeMs === undefined) return undefined;
  if (issuedValidityMs(validityMonths, now) <= keyLifetimeMs) return undefined;
  let allowed = validityMonths - 1;
  while (allowed > 0 && issuedValidityMs(allowed, now) > keyLifetimeMs) allowed -= 1;
  const fix =
    allowed > 0
      ? `set validityInMonths to ${allowed} or less`
      : "the policy allows less than a month: a person must decide";
  return `the Key Vault policy issues certificates valid for ${validityMonths} months; the target's app management policy allows at most ${days(keyLifetimeMs)} days (${fix})`;
}
