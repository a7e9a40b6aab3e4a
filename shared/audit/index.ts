/** The audit trail: records, hash chains, delivery with a spool, the redaction guard, verification. */
export * from "./chain.js";
export * from "./events.js";
export * from "./open.js";
export * from "./ports.js";
export * from "./record.js";
export * from "./redact.js";
export * from "./verify.js";
export * from "./writer.js";
