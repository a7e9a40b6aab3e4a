/**
 * `rollover/identity`: the token client for services whose certificates Rollover rotates.
 *
 * ```ts
 * import { EntraAgentId } from "rollover/identity";
 * const agent = new EntraAgentId({ tenantId, clientId, certificatePath: "/etc/app/cert.pem" });
 * const header = await agent.getAuthHeader(); // "Bearer …"
 * ```
 */
export type { CertificateInfo } from "./certificate.js";
export { EntraAgentId } from "./entra-agent-id.js";
export { CERTIFICATE_ERROR_CODES, EntraAgentIdError, type EntraAgentIdErrorCode } from "./errors.js";
export type {
  AgentIdentityOptions,
  EntraAgentIdOptions,
  KeyVaultCertificateOptions,
  Scheduler,
  TokenCredentialLike,
} from "./options.js";
