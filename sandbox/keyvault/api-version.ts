/** Key Vault data-plane api-versions. */
/**
 * The api-versions this vault speaks, oldest first: the stable Key Vault data-plane versions
 * (azure-rest-api-specs `specification/keyvault/data-plane/Microsoft.KeyVault/stable/*`), every
 * `serviceVersion` the current `@azure/keyvault-certificates`, `-keys` and `-secrets` releases can
 * send, and `2026-04-01`, the default of `@azure/keyvault-secrets` 4.12.0 (its
 * `LATEST_API_VERSION`). Anything else is refused as the service refuses it (400 BadParameter).
 */
export const API_VERSIONS = [
  "2016-10-01",
  "7.0",
  "7.1",
  "7.2",
  "7.3",
  "7.4",
  "7.5",
  "7.6",
  "2025-07-01",
  "2026-04-01",
] as const;
export const LATEST_API_VERSION = API_VERSIONS[API_VERSIONS.length - 1];

/** Whether `apiVersion` is `min` or newer (both from API_VERSIONS). */
export function apiVersionAtLeast(apiVersion: string, min: (typeof API_VERSIONS)[number]): boolean {
  return (
    (API_VERSIONS as readonly string[]).indexOf(apiVersion) >=
    (API_VERSIONS as readonly string[]).indexOf(min)
  );
}
