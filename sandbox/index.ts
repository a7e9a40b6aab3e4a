/**
 * The Rollover sandbox: a local tenant that speaks Entra, Microsoft Graph, Key Vault, Event Grid
 * and the Logs Ingestion API on the wire. It imports nothing of the product.
 */
export { type SandboxHandle, type SandboxOptions, startSandbox } from "./server.js";
export type { SandboxContext, SandboxUrls } from "./types.js";
