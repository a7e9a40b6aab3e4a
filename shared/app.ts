/**
 * The composition root: settings → Azure clients → engine, sweep and audit. The Functions app
 * and the CLI both build Rollover here, so the two cannot drift apart.
 */
import type { TokenCredential } from "@azure/identity";
import { type AuditTrail, openAuditTrail } from "./audit/open.js";
import { rolloverCredential } from "./azure/entra.js";
import { GraphEdge } from "./azure/graph.js";
import { VaultEdge } from "./azure/keyvault.js";
import { LeaseManager, STATE_TABLE, StateStore, type StorageSettings, tableClient } from "./azure/storage.js";
import { type Config, loadConfig, type SettingKey } from "./config.js";
import { type Policies, policiesFrom } from "./core/plan.js";

/** Settings the engine cannot run without. */
export const REQUIRED_FOR_ROTATION: readonly SettingKey[] = ["tenantId", "vaultUrls"];

export interface Rollover {
  config: Config;
  policies: Policies;
  credential: TokenCredential;
  vaults: Map<string, VaultEdge>;
  graph: GraphEdge;
  storage: StorageSettings;
  state: StateStore;
  leases: LeaseManager;
  /** Undefined when the Logs Ingestion settings are absent (a CLI dry run may do without). */
  audit?: AuditTrail;
  selfIds: string[];
}

export function buildRollover(
  env: NodeJS.ProcessEnv = process.env,
  opts: { credential?: TokenCredential; requireAudit?: boolean } = {},
): Rollover {
  const required: SettingKey[] = [...REQUIRED_FOR_ROTATION];
  if (opts.requireAudit) required.push("logsIngestionEndpoint", "dcrImmutableId");
  const config = loadConfig(env, required);
  const credential =
    opts.credential ?? rolloverCredential({ authorityHost: config.authorityHost, clientId: config.clientId });
  const vaults = new Map<string, VaultEdge>();
  for (const url of config.vaultUrls ?? []) {
    const v = new VaultEdge(url, credential);
    vaults.set(v.name, v);
  }
  const storage: StorageSettings = {
    connectionString: config.storage,
    accountName: config.storageAccountName,
    credential,
  };
  const audit =
    config.logsIngestionEndpoint && config.dcrImmutableId && (config.storage || config.storageAccountName)
      ? openAuditTrail(config, credential)
      : undefined;
  return {
    config,
    policies: policiesFrom(config),
    credential,
    vaults,
    graph: new GraphEdge(config.graphBaseUrl),
    storage,
    state: new StateStore(tableClient(storage, STATE_TABLE)),
    leases: LeaseManager.fromSettings(storage),
    ...(audit ? { audit } : {}),
    selfIds: [config.identityObjectId, config.clientId]
      .filter((x): x is string => !!x)
      .map((x) => x.toLowerCase()),
  };
}
