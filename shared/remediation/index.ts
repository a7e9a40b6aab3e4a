/** Azure Monitor alerts → remediation: the common alert schema, the secure-webhook check, the actions. */
export * from "./alert.js";
export * from "./auth.js";
export * from "./remediate.js";
