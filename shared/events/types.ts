/**
 * Key Vault events as Rollover reads them, whichever schema Event Grid delivered them in
 * (Event Grid schema or CloudEvents 1.0). See docs/functions.md.
 */

/** The certificate events `keyVaultEvents` handles; the Event Grid subscription's filter must equal this list. */
export const KEY_VAULT_EVENT_TYPES = [
  "Microsoft.KeyVault.CertificateNewVersionCreated",
  "Microsoft.KeyVault.CertificateNearExpiry",
  "Microsoft.KeyVault.CertificateExpired",
] as const;
export type KeyVaultEventType = (typeof KEY_VAULT_EVENT_TYPES)[number];

export const NEAR_EXPIRY_EVENT_TYPES: readonly KeyVaultEventType[] = [
  "Microsoft.KeyVault.CertificateNearExpiry",
  "Microsoft.KeyVault.CertificateExpired",
];

export const SUBSCRIPTION_VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent";

export type EventSchemaName = "EventGridSchema" | "CloudEventSchemaV1_0";

/** `data` of a Key Vault event, keys read case-insensitively; every field may be absent. */
export interface KeyVaultEventData {
  /** `https://{vault}.vault.azure.net/certificates/{name}/{version}` */
  id?: string;
  vaultName?: string;
  objectType?: string;
  objectName?: string;
  version?: string;
  /** Epoch seconds, or null when the object has none. */
  nbf?: number | null;
  exp?: number | null;
}

/** One event, the same whichever schema carried it. */
export interface KeyVaultEvent {
  schema: EventSchemaName;
  id: string;
  type: string;
  /** `topic` (Event Grid schema) or `source` (CloudEvents): the vault's resource id. */
  source: string;
  subject?: string;
  time?: string;
  data: KeyVaultEventData;
}

export function isHandledType(type: string): type is KeyVaultEventType {
  return (KEY_VAULT_EVENT_TYPES as readonly string[]).includes(type);
}
