/**
 * `rollover` as a library: the decision core (plan a tenant from a snapshot, reason codes and
 * their classes), the settings schema, the composition root that builds Rollover from settings,
 * the audit trail (records, chains, verification) and `rollover status`.
 *
 * ```ts
 * import { planTenant, parseSnapshot, policiesFrom, loadConfig } from "rollover";
 * const plan = planTenant(parseSnapshot(json), policiesFrom(loadConfig()), Date.now());
 * ```
 *
 * The token client for services whose certificates Rollover rotates is `rollover/identity`.
 */
export * from "./core/index.js";
export * from "./audit/index.js";
export {
  type Config,
  ConfigError,
  type ConfigProblem,
  isConfigError,
  loadConfig,
  PURPOSES,
  type Purpose,
  REQUIRED_FOR,
  renderConfigTable,
  requiredFor,
  SETTINGS,
  type SettingKey,
} from "./config.js";
export { buildRollover, engineFor, type Rollover, sweepDepsFor } from "./app.js";
export type { BindingOutcome, BindingRef, BindingResult } from "./rotation/engine.js";
export type { SweepSummary } from "./sweep/run.js";
