/**
 * Stable reason codes. They appear in plans, audit records (`Reason`) and alert queries, so a
 * code is never renamed or reused: add new ones, deprecate old ones. docs/reason-codes.md lists
 * them with their meaning (a test keeps that list complete).
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
  // Refusals (no change for this binding; the run goes on)
  BindingTagsMissing: "BindingTagsMissing",
  BindingTagsInvalid: "BindingTagsInvalid",
  TargetNotFound: "TargetNotFound",
  TargetIsSelf: "TargetIsSelf",
  NoUsableVersion: "NoUsableVersion",
  NoSigningKey: "NoSigningKey",
  // Sweep findings
  CredentialExpired: "CredentialExpired",
  KeyOrphaned: "KeyOrphaned",
  CredentialOverLongLived: "CredentialOverLongLived",
  SecretNotAllowed: "SecretNotAllowed",
  ExpiringUnbound: "ExpiringUnbound",
  DuplicateKeyId: "DuplicateKeyId",
  InvalidCredentialDates: "InvalidCredentialDates",
  UnknownTargetType: "UnknownTargetType",
  // Sweep removals and the guardrails that hold them back
  RemoveExpired: "RemoveExpired",
  RemoveOrphaned: "RemoveOrphaned",
  GuardSelfIdentity: "GuardSelfIdentity",
  GuardDenyList: "GuardDenyList",
  GuardNotAllowListed: "GuardNotAllowListed",
  GuardBindingCurrentKey: "GuardBindingCurrentKey",
  GuardGraceWindow: "GuardGraceWindow",
  GuardLastValidCredential: "GuardLastValidCredential",
  GuardRemovalCap: "GuardRemovalCap",
  ReportOnly: "ReportOnly",
  // Run outcomes
  Locked: "Locked",
  ReadFailed: "ReadFailed",
  PassLimit: "PassLimit",
  Error: "Error",
  RecoveredStep: "RecoveredStep",
  // Joining and leaving (rollover bind, unbind, migrate-secret)
  Bind: "Bind",
  AlreadyBound: "AlreadyBound",
  Unbind: "Unbind",
  SecretStillInUse: "SecretStillInUse",
  SwitchedToCertificate: "SwitchedToCertificate",
  SecretOnBoundTarget: "SecretOnBoundTarget",
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];

/** One line per code: what it means. Shown by `rollover plan` and kept in docs/reason-codes.md. */
export const REASON_TEXT: Record<ReasonCode, string> = {
  RenewNearExpiryEvent: "Key Vault reported the certificate near expiry (Event Grid CertificateNearExpiry).",
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
  BindingTagsMissing: "The certificate has no rollover-target tag.",
  BindingTagsInvalid: "The certificate's rollover-* tags are malformed.",
  TargetNotFound: "The target object named by the binding does not exist.",
  TargetIsSelf: "The binding names Rollover's own identity; Rollover never changes its own credentials.",
  NoUsableVersion: "Key Vault holds no enabled, valid version of the certificate.",
  NoSigningKey:
    "Self mode needs a valid certificate on the target whose key is in Key Vault; managed mode is not enabled.",
  CredentialExpired: "The credential's endDateTime has passed.",
  KeyOrphaned: "A key on a bound target that no Key Vault version of its binding backs.",
  CredentialOverLongLived: "The credential is valid for longer than policy allows.",
  SecretNotAllowed: "A client secret where policy requires certificates.",
  ExpiringUnbound: "The credential expires soon and no binding will renew it.",
  DuplicateKeyId: "Two credentials on the same target share a keyId.",
  InvalidCredentialDates: "The credential's dates are malformed or end before they start.",
  UnknownTargetType: "The object is of a type Rollover does not handle.",
  RemoveExpired: "Remove an expired credential.",
  RemoveOrphaned: "Remove a key that no Key Vault version backs.",
  GuardSelfIdentity: "Held back: Rollover never changes its own identity.",
  GuardDenyList: "Held back: the target is on the deny list.",
  GuardNotAllowListed: "Held back: an allow list is set and the target is not on it.",
  GuardBindingCurrentKey: "Held back: the key is the one a binding currently uses.",
  GuardGraceWindow: "Held back: the key is younger than the grace window.",
  GuardLastValidCredential: "Held back: it would leave the target with no valid credential.",
  GuardRemovalCap: "Deferred: the per-run removal cap was reached.",
  ReportOnly: "Reported only: sweep mode is report.",
  Locked: "Another run holds this binding's lease; this run changed nothing.",
  ReadFailed: "Reading the binding's state failed (throttling past retries, an outage); nothing was changed.",
  PassLimit: "The run stopped after its step limit; the next run continues.",
  Error: "An unexpected error; nothing further was changed in this run.",
  RecoveredStep:
    "A change an earlier run made but did not live to record, confirmed from Key Vault and Graph and recorded now.",
  Bind: "A person bound a certificate to a target with rollover bind: a new non-exportable certificate, its key on the target.",
  AlreadyBound:
    "rollover bind found the binding in place (certificate tagged, key on the target) and changed nothing.",
  Unbind:
    "A person unbound a certificate with rollover unbind: its keys left the target, its versions were untagged and disabled.",
  SecretStillInUse:
    "A service moving off client secrets has not switched to its certificate yet (or whether it has is unknown).",
  SwitchedToCertificate:
    "A service moving off client secrets signs in with its certificate and no longer with a secret; its secrets may go.",
  SecretOnBoundTarget:
    "A valid client secret on a target that has a certificate binding: the service is moving off it (rollover migrate-secret). Reported every sweep; never removed by the sweep.",
};
