/** The decision core: pure functions, plain values, time passed in. No I/O, no SDK imports. */
export * from "./backoff.js";
export * from "./binding.js";
export * from "./budget.js";
export * from "./bound.js";
export * from "./insight.js";
export * from "./model.js";
export * from "./own-writes.js";
export * from "./plan.js";
export * from "./reasons.js";
export * from "./renewal.js";
export * from "./snapshot.js";
export * from "./sweep.js";
export * from "./time.js";
export * from "./ids.js";
export * from "./grants.js";
export * from "./status.js";
export * from "./provenance.js";
