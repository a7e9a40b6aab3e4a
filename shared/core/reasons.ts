/**
 * The registry of every outcome code. A code appears in plans, audit records (`Reason`, with its
 * class in `ReasonClass`) and alert queries, so it is never renamed or reused: add new ones,
 * deprecate old ones. Each code has three entries, all checked by the compiler:
 *
 * - `Reason`: the code itself;
 * - `REASON_TEXT`: one line for people (docs/reason-codes.md lists them; a test keeps it complete);
 * - `REASON_CLASS`: `fine` (nothing to do), `transient` (Rollover retries by itself) or
 *   `needsPerson` (nothing changes until someone acts; an alert rule tells people, see
 *   infra/app/alerts.bicep and the test that ties the two).
 */
export const Reason = {
  // Renewal (one binding)
  RenewNearExpiryEvent: "RenewNearExpiryEvent",
  RenewLifetimeFraction: "RenewLifetimeFraction",
  RenewBeforeExpiryDays: "RenewBeforeExpiryDays",
  RenewExpired: "RenewExpired",
  RenewalInProgress: "RenewalInProgress",
  RenewalNotSupported: "RenewalNotSupported",
  RecentlyRenewed: "RecentlyRenewed",
  // Attach, verify, retire
  AttachNewVersion: "AttachNewVersion",
  VerifyNewKey: "VerifyNewKey",
  RetirePreviousKey: "RetirePreviousKey",
  GraceWindowOpen: "GraceWindowOpen",
  UpToDate: "UpToDate",
  BackingOff: "BackingOff",
  NotYetValid: "NotYetValid",
  ReplicationPending: "ReplicationPending",
  // Refusals (no change for this binding; the run goes on)
  BindingTagsMissing: "BindingTagsMissing",
  BindingTagsInvalid: "BindingTagsInvalid",
  TargetNotFound: "TargetNotFound",
  TargetIsSelf: "TargetIsSelf",
  NoUsableVersion: "NoUsableVersion",
  NoSigningKey: "NoSigningKey",
  PolicyWouldRefuse: "PolicyWouldRefuse",
  // Sweep findings
  CredentialExpired: "CredentialExpired",
  KeyOrphaned: "KeyOrphaned",
  KeyUnmanaged: "KeyUnmanaged",
  CredentialOverLongLived: "CredentialOverLongLived",
  SecretNotAllowed: "SecretNotAllowed",
  ExpiringUnbound: "ExpiringUnbound",
  DuplicateKeyId: "DuplicateKeyId",
  InvalidCredentialDates: "InvalidCredentialDates",
  UnknownTargetType: "UnknownTargetType",
  // Insight findings (shared/core/insight.ts)
  HighPrivilegeCredential: "HighPrivilegeCredential",
  CredentialUnused: "CredentialUnused",
  CredentialNeverUsed: "CredentialNeverUsed",
  SecretRestrictedByPolicy: "SecretRestrictedByPolicy",
  SignInDataUnavailable: "SignInDataUnavailable",
  PolicyDataUnavailable: "PolicyDataUnavailable",
  // Sweep removals and the guardrails that hold them back
  RemoveExpired: "RemoveExpired",
  RemoveOrphaned: "RemoveOrphaned",
  RemoveUnused: "RemoveUnused",
  GuardSelfIdentity: "GuardSelfIdentity",
  GuardDenyList: "GuardDenyList",
  GuardNotAllowListed: "GuardNotAllowListed",
  GuardBindingCurrentKey: "GuardBindingCurrentKey",
  GuardGraceWindow: "GuardGraceWindow",
  GuardLastValidCredential: "GuardLastValidCredential",
  GuardRemovalCap: "GuardRemovalCap",
  GuardRemovalBudget: "GuardRemovalBudget",
  RemovalNotPermitted: "RemovalNotPermitted",
  RemovalAborted: "RemovalAborted",
  ReportOnly: "ReportOnly",
  // Run outcomes
  Locked: "Locked",
  ReadFailed: "ReadFailed",
  PassLimit: "PassLimit",
  Error: "Error",
  RecoveredStep: "RecoveredStep",
  // Key Vault events (keyVaultEvents)
  VaultNotAllowed: "VaultNotAllowed",
  VaultNotConfigured: "VaultNotConfigured",
  UnhandledEventType: "UnhandledEventType",
  MalformedEvent: "MalformedEvent",
  NotACertificate: "NotACertificate",
  // Alerts (remediateAlert)
  AlertResolved: "AlertResolved",
  AlertNoAction: "AlertNoAction",
  AlertTargetUnknown: "AlertTargetUnknown",
  AlertRotate: "AlertRotate",
  AlertSweep: "AlertSweep",
  // Sweep queue (sweepPage)
  MalformedMessage: "MalformedMessage",
  // Trust boundary
  RenewNearExpiryWindow: "RenewNearExpiryWindow",
  VersionNotIssuedByRollover: "VersionNotIssuedByRollover",
  KeyExportable: "KeyExportable",
  StepFailureLimit: "StepFailureLimit",
  VersionAdopted: "VersionAdopted",
  EventVaultMismatch: "EventVaultMismatch",
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];

/** One line per code: what it means. Shown by `rollover plan` and kept in docs/reason-codes.md. */
export const REASON_TEXT: Record<ReasonCode, string> = {
  RenewNearExpiryEvent:
    "Deprecated (no longer emitted): renewal is never decided from an event; see RenewNearExpiryWindow.",
  RenewLifetimeFraction: "The configured fraction of the certificate's lifetime has passed.",
  RenewBeforeExpiryDays: "The certificate expires within the configured number of days.",
  RenewExpired: "The certificate has already expired.",
  RenewalInProgress: "Key Vault is already issuing a new version.",
  RenewalNotSupported:
    "The certificate's issuer cannot be completed by Key Vault alone (Unknown issuer or manual CSR merge).",
  RecentlyRenewed: "The current version is younger than the renewal buffer; renewing again would flap.",
  AttachNewVersion: "The newest Key Vault version's public key is not on the target yet.",
  VerifyNewKey: "The new key is attached but no token has been acquired with it yet.",
  RetirePreviousKey: "The new key is verified and the grace window has passed: the replaced key can go.",
  GraceWindowOpen: "The replaced key stays until the grace window after verification has passed.",
  UpToDate: "Nothing to do: the newest version is attached, verified and not due for renewal.",
  BackingOff: "An earlier attempt failed; the next attempt waits for the back-off to pass.",
  NotYetValid: "The newest version is not valid yet (its notBefore is in the future).",
  ReplicationPending:
    "Graph does not show Rollover's own last change to this target yet (eventual consistency); a read-modify-write waits for it.",
  BindingTagsMissing: "The certificate has no rollover-target tag.",
  BindingTagsInvalid: "The certificate's rollover-* tags are malformed.",
  TargetNotFound: "The target object named by the binding does not exist.",
  TargetIsSelf: "The binding names Rollover's own identity; Rollover never changes its own credentials.",
  NoUsableVersion: "Key Vault holds no enabled, valid version of the certificate.",
  NoSigningKey:
    "Self mode needs a valid certificate on the target whose key is in Key Vault; managed mode is not enabled.",
  PolicyWouldRefuse:
    "Not renewed: the Key Vault policy's validity exceeds the target's app management policy (asymmetricKeyLifetime); Graph would refuse the new key.",
  CredentialExpired: "The credential's endDateTime has passed.",
  KeyOrphaned:
    "A key Rollover attached to a bound target (on record, and marked rollover:) that no Key Vault version of its bindings backs any more.",
  KeyUnmanaged:
    "A valid key on a bound target that Rollover did not attach and no Key Vault version of its bindings backs (added by a person): reported, never removed.",
  CredentialOverLongLived: "The credential is valid for longer than policy allows.",
  SecretNotAllowed: "A client secret where policy requires certificates.",
  ExpiringUnbound: "The credential expires soon and no binding will renew it.",
  DuplicateKeyId: "Two credentials on the same target share a keyId.",
  InvalidCredentialDates: "The credential's dates are malformed or end before they start.",
  UnknownTargetType: "The object is of a type Rollover does not handle.",
  HighPrivilegeCredential:
    "An identity holding a high-privilege application permission has a client secret or a long-lived credential.",
  CredentialUnused: "No sign-in with this credential for ROLLOVER_UNUSED_AFTER_DAYS.",
  CredentialNeverUsed:
    "No sign-in with this credential is recorded, and it is older than ROLLOVER_UNUSED_AFTER_DAYS.",
  SecretRestrictedByPolicy:
    "A client secret on an object whose app management policy blocks secrets or allows shorter-lived ones.",
  SignInDataUnavailable:
    "Sign-in activity could not be read (no AuditLog.Read.All, or not the global cloud); unused credentials are not reported.",
  PolicyDataUnavailable:
    "App management policies could not be read (no Policy.Read.All); their restrictions are not applied.",
  RemoveExpired: "Remove an expired credential.",
  RemoveOrphaned: "Remove a key that no Key Vault version backs.",
  RemoveUnused:
    "Remove a valid credential nobody signed in with for ROLLOVER_UNUSED_AFTER_DAYS (ROLLOVER_REMOVE_UNUSED).",
  GuardSelfIdentity: "Held back: Rollover never changes its own identity.",
  GuardDenyList: "Held back: the target is on the deny list.",
  GuardNotAllowListed: "Held back: an allow list is set and the target is not on it.",
  GuardBindingCurrentKey: "Held back: the key is the one a binding currently uses.",
  GuardGraceWindow:
    "Held back: Rollover first saw the credential on the target less than the grace window ago (or in this run).",
  GuardLastValidCredential: "Held back: it would leave the target with no valid credential.",
  GuardRemovalCap: "Deferred: the per-run removal cap was reached.",
  GuardRemovalBudget:
    "Deferred: the removal budget shared by every run (ROLLOVER_MAX_REMOVALS_PER_HOUR / _PER_DAY) is spent for now.",
  RemovalNotPermitted:
    "Held back: Rollover holds no permission to remove it (no binding key to sign removeKey as the target, and no managed mode with ownership); the message names what would allow it.",
  RemovalAborted:
    "Not removed: the target changed between the read and the removal, or a guard holds on the fresh read; retried next run.",
  ReportOnly: "Reported only: sweep mode is report.",
  Locked: "Another run holds this binding's lease; this run changed nothing.",
  ReadFailed: "Reading the binding's state failed (throttling past retries, an outage); nothing was changed.",
  PassLimit: "The run stopped after its step limit; the next run continues.",
  Error: "An unexpected error; nothing further was changed in this run.",
  RecoveredStep:
    "A change an earlier run made but did not live to record, confirmed from Key Vault and Graph and recorded now.",
  VaultNotAllowed: "A Key Vault event came from a vault not in ROLLOVER_ALLOWED_VAULTS; it was refused.",
  VaultNotConfigured:
    "A Key Vault event came from an allowed vault that is not in ROLLOVER_VAULT_URLS; it was refused.",
  UnhandledEventType: "An event of a type Rollover does not act on; acknowledged.",
  MalformedEvent: "An event that does not parse as a Key Vault certificate event; acknowledged.",
  NotACertificate: "A Key Vault event about a key or secret, not a certificate; acknowledged.",
  AlertResolved: "The alert was resolved; nothing to do.",
  AlertNoAction: "The alert carries no rollover-action (rotate or sweep); the alert rule needs fixing.",
  AlertTargetUnknown:
    "The alert names no target Rollover knows (no binding, no object); nothing was changed.",
  AlertRotate: "An alert asked to rotate the target's bindings.",
  AlertSweep: "An alert asked to sweep the target.",
  MalformedMessage: "A sweep queue message that does not parse; dropped (the next sweep covers its page).",
  RenewNearExpiryWindow:
    "Key Vault's own near-expiry window has been reached (the policy's lifetime action, or 30 days before expiry).",
  VersionNotIssuedByRollover:
    "The newest version was not issued by a renewal Rollover requested, nor adopted by a person (needs a person: `rollover adopt`).",
  KeyExportable:
    "The certificate policy lets the private key be exported; Rollover neither renews nor attaches such a key (needs a person).",
  StepFailureLimit:
    "The same step failed ROLLOVER_MAX_STEP_FAILURES times in a row; Rollover stopped retrying it (needs a person).",
  VersionAdopted:
    "A person adopted a certificate version on purpose (`rollover adopt`); Rollover may attach it.",
  EventVaultMismatch:
    "The event's data.Id (or data.VaultName) names another vault than its topic/source; refused, nothing changed.",
};

/**
 * What an outcome asks of people. `fine`: nothing. `transient`: nothing, Rollover tries again by
 * itself. `needsPerson`: nothing will change until someone acts; an alert rule reaches people.
 */
export type ReasonClass = "fine" | "transient" | "needsPerson";

export const REASON_CLASSES: readonly ReasonClass[] = ["fine", "transient", "needsPerson"];

/** The class of every code (a code without one does not compile). */
export const REASON_CLASS: Record<ReasonCode, ReasonClass> = {
  RenewNearExpiryEvent: "fine",
  RenewLifetimeFraction: "fine",
  RenewBeforeExpiryDays: "fine",
  RenewExpired: "fine",
  RenewalInProgress: "transient",
  RenewalNotSupported: "needsPerson",
  RecentlyRenewed: "fine",
  AttachNewVersion: "fine",
  VerifyNewKey: "fine",
  RetirePreviousKey: "fine",
  GraceWindowOpen: "fine",
  UpToDate: "fine",
  BackingOff: "transient",
  NotYetValid: "transient",
  ReplicationPending: "transient",
  BindingTagsMissing: "needsPerson",
  BindingTagsInvalid: "needsPerson",
  TargetNotFound: "needsPerson",
  TargetIsSelf: "needsPerson",
  NoUsableVersion: "needsPerson",
  NoSigningKey: "needsPerson",
  PolicyWouldRefuse: "needsPerson",
  CredentialExpired: "fine",
  KeyOrphaned: "fine",
  CredentialOverLongLived: "needsPerson",
  SecretNotAllowed: "needsPerson",
  ExpiringUnbound: "needsPerson",
  DuplicateKeyId: "needsPerson",
  InvalidCredentialDates: "needsPerson",
  UnknownTargetType: "fine",
  HighPrivilegeCredential: "needsPerson",
  CredentialUnused: "needsPerson",
  CredentialNeverUsed: "needsPerson",
  SecretRestrictedByPolicy: "needsPerson",
  // An optional permission not granted is a deployment's choice: said once per run, not alerted.
  SignInDataUnavailable: "fine",
  PolicyDataUnavailable: "fine",
  RemoveExpired: "fine",
  RemoveOrphaned: "fine",
  RemoveUnused: "fine",
  GuardSelfIdentity: "fine",
  GuardDenyList: "fine",
  GuardNotAllowListed: "fine",
  GuardBindingCurrentKey: "fine",
  GuardGraceWindow: "transient",
  GuardLastValidCredential: "needsPerson",
  GuardRemovalCap: "transient",
  GuardRemovalBudget: "transient",
  KeyUnmanaged: "fine",
  RemovalAborted: "transient",
  RemovalNotPermitted: "needsPerson",
  ReportOnly: "fine",
  Locked: "transient",
  ReadFailed: "needsPerson",
  PassLimit: "transient",
  Error: "transient",
  RecoveredStep: "fine",
  VaultNotAllowed: "needsPerson",
  VaultNotConfigured: "needsPerson",
  UnhandledEventType: "fine",
  MalformedEvent: "fine",
  NotACertificate: "fine",
  AlertResolved: "fine",
  AlertNoAction: "needsPerson",
  AlertTargetUnknown: "needsPerson",
  AlertRotate: "fine",
  AlertSweep: "fine",
  MalformedMessage: "fine",
  RenewNearExpiryWindow: "fine",
  VersionNotIssuedByRollover: "needsPerson",
  KeyExportable: "needsPerson",
  StepFailureLimit: "needsPerson",
  VersionAdopted: "fine",
  EventVaultMismatch: "needsPerson",
};

/** One entry of the registry. */
export interface ReasonInfo {
  code: ReasonCode;
  text: string;
  class: ReasonClass;
}

export function isReasonCode(s: string): s is ReasonCode {
  return Object.hasOwn(REASON_TEXT, s);
}

/** The registry entry for a code. */
export function reasonInfo(code: ReasonCode): ReasonInfo {
  return { code, text: REASON_TEXT[code], class: REASON_CLASS[code] };
}

/** Every code with its text and class, in declaration order. */
export function reasonRegistry(): ReasonInfo[] {
  return (Object.values(Reason) as ReasonCode[]).map(reasonInfo);
}

/** The codes of one class. */
export function reasonsOfClass(c: ReasonClass): ReasonCode[] {
  return (Object.values(Reason) as ReasonCode[]).filter((r) => REASON_CLASS[r] === c);
}

/** The registry as a Markdown table (docs/reason-codes.md; `npm run docs:reasons` rewrites it). */
export function renderReasonTable(): string {
  const rows = reasonRegistry().map(
    (r) => `| \`${r.code}\` | ${r.class} | ${r.text.replace(/\|/g, "\\|")} |`,
  );
  return ["| Code | Class | Meaning |", "|---|---|---|", ...rows].join("\n");
}
