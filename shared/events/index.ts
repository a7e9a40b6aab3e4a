/** Key Vault events from Event Grid: parsing, the allow list, and what `keyVaultEvents` does. */
export * from "./handle.js";
export * from "./parse.js";
export * from "./types.js";
export * from "./vaults.js";
