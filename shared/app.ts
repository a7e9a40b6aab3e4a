/**
 * The composition root: settings → Azure clients → engine, sweep and audit. The Functions app
 * and the CLI both build Rollover here, so the two cannot drift apart.
 */
import type { TokenCredential } from "@azure/identity";
import type { AuditSink } from "./audit/events.js";
import { type AuditTrail, openAuditTrail } from "./audit/open.js";
import { rolloverCredential } from "./azure/entra.js";
import { type Clock, clockFor } from "./clock.js";
import { GraphEdge } from "./azure/graph.js";
import { VaultEdge } from "./azure/keyvault.js";
import { LeaseManager, STATE_TABLE, StateStore, type StorageSettings, tableClient } from "./azure/storage.js";
import { type Config, loadConfig, type SettingKey } from "./config.js";
import { type PolicyFacts, restrictionsFor } from "./core/insight.js";
import type { Target } from "./core/model.js";
import { type Policies, policiesFrom } from "./core/plan.js";
import { type EngineDeps, RotationEngine as RotationEngineCtor } from "./rotation/engine.js";
import { DeltaStore, SWEEP_DELTA_TABLE } from "./azure/sweep-delta.js";
import { RemovalBudget, SWEEP_BUDGET_TABLE } from "./azure/sweep-budget.js";
import { RemovalJournal, SWEEP_JOURNAL_TABLE } from "./azure/sweep-journal.js";
import { FirstSeenStore, SWEEP_SEEN_TABLE } from "./azure/sweep-seen.js";
import type { SweepDeps } from "./sweep/run.js";
import type { InsightReaders } from "./sweep/insight.js";
import { readCredentialSignIns } from "./azure/signins.js";
import { readAppManagementPolicies } from "./azure/policies.js";
import { readPrivileges } from "./azure/privileges.js";

/** Settings the engine cannot run without. */
export const REQUIRED_FOR_ROTATION: readonly SettingKey[] = ["tenantId", "vaultUrls", "storage"];

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
  /** Where this process reads the time (the sandbox's clock against the sandbox; see shared/clock.ts). */
  clock: Clock;
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
    endpointSuffix: config.storageEndpointSuffix,
    credential,
  };
  const clock = clockFor(config);
  const audit =
    config.logsIngestionEndpoint && config.dcrImmutableId && (config.storage || config.storageAccountName)
      ? openAuditTrail(config, credential, { writer: { clock: () => new Date(clock.now()) } })
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
    clock,
  };
}

/** The rotation engine for one run, writing to `audit`. */
export function engineFor(
  r: Rollover,
  opts: {
    audit: AuditSink;
    now?: () => number;
    dryRun?: boolean;
    random?: () => number;
    onBoundary?: EngineDeps["onBoundary"];
  },
): RotationEngineCtor {
  return new RotationEngineCtor({
    vaults: r.vaults,
    graph: r.graph,
    rollover: { credential: r.credential, tenantId: r.config.tenantId!, selfIds: r.selfIds },
    authorityHost: r.config.authorityHost,
    state: r.state,
    leases: r.leases,
    audit: opts.audit,
    policy: r.policies.binding,
    verifyTimeoutMs: r.config.verifyTimeoutSeconds * 1000,
    renewWaitMs: 60_000,
    now: opts.now ?? r.clock.now,
    // Jitter spreads retries of many bindings that failed together (shared/core/backoff.ts).
    random: opts.random ?? Math.random,
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.onBoundary ? { onBoundary: opts.onBoundary } : {}),
    keyLifetimeLimit: processKeyLifetimeLimit(r),
  });
}

/**
 * How long the app management policies, once read, serve the runs that follow in the same
 * process: an event's run does not wait on a Graph read each time. A changed policy is seen
 * within this time (Graph refuses a key the new policy forbids at addKey in any case).
 */
export const POLICY_FACTS_TTL_MS = 5 * 60_000;

const lifetimeLimits = new WeakMap<Rollover, (t: Target) => Promise<number | undefined>>();

/** The key lifetime limit reader of this Rollover, shared by its engines (see POLICY_FACTS_TTL_MS). */
function processKeyLifetimeLimit(r: Rollover): (t: Target) => Promise<number | undefined> {
  let reader = lifetimeLimits.get(r);
  if (!reader) {
    reader = keyLifetimeLimitReader(r.graph.client(r.credential), {
      ttlMs: POLICY_FACTS_TTL_MS,
      now: r.clock.now,
    });
    lifetimeLimits.set(r, reader);
  }
  return reader;
}

/**
 * The target's certificate lifetime limit from the app management policies (Policy.Read.All,
 * optional), read once per reader (or again once `ttlMs` passed); unknown when the policies
 * cannot be read.
 */
export function keyLifetimeLimitReader(
  client: ReturnType<GraphEdge["client"]>,
  refresh?: { ttlMs: number; now: () => number },
): (t: Target) => Promise<number | undefined> {
  let facts: Promise<PolicyFacts> | undefined;
  let readAt = 0;
  return async (t) => {
    if (facts && refresh) {
      const age = refresh.now() - readAt;
      if (age < 0 || age >= refresh.ttlMs) facts = undefined;
    }
    if (!facts) {
      readAt = refresh?.now() ?? 0;
      facts = readAppManagementPolicies(client).catch((e) => ({
        available: false as const,
        detail: String(e),
      }));
    }
    return restrictionsFor(t, await facts)?.keyLifetimeMs;
  };
}

/** Sweep dependencies for one run. */
export function sweepDepsFor(
  r: Rollover,
  opts: {
    audit: AuditSink;
    now?: () => number;
    dryRun?: boolean;
    onPage?: SweepDeps["onPage"];
    /** Read only what changed since the last sweep, when a delta link is stored (see sweep/delta.ts). */
    incremental?: boolean;
  },
): SweepDeps {
  const client = r.graph.client(r.credential);
  return {
    graph: r.graph,
    client,
    insight: insightReaders(r, client),
    tenantId: r.config.tenantId!,
    vaults: [...r.vaults.values()],
    selfIds: r.selfIds,
    policy: r.policies.sweep,
    audit: opts.audit,
    now: opts.now ?? r.clock.now,
    dryRun: opts.dryRun ?? false,
    state: r.state,
    managedMode: r.config.managedMode,
    authorityHost: r.config.authorityHost,
    ...(r.config.identityObjectId ? { ownerId: r.config.identityObjectId } : {}),
    ...(opts.onPage ? { onPage: opts.onPage } : {}),
    // A dry run reads first sight (to show what remove mode would do) but records nothing.
    ...(opts.dryRun && (r.config.storage || r.config.storageAccountName)
      ? { firstSeen: new FirstSeenStore(tableClient(r.storage, SWEEP_SEEN_TABLE)) }
      : {}),
    ...(opts.dryRun
      ? {}
      : {
          journal: new RemovalJournal(tableClient(r.storage, SWEEP_JOURNAL_TABLE)),
          firstSeen: new FirstSeenStore(tableClient(r.storage, SWEEP_SEEN_TABLE)),
          budget: new RemovalBudget(tableClient(r.storage, SWEEP_BUDGET_TABLE), {
            perHour: r.config.maxRemovalsPerHour,
            perDay: r.config.maxRemovalsPerDay,
          }),
        }),
    ...(opts.incremental
      ? {
          delta: new DeltaStore(tableClient(r.storage, SWEEP_DELTA_TABLE)),
          fullEveryMs: r.config.fullSweepHours * 3_600_000,
        }
      : {}),
  };
}

/** The insight readers (optional permissions: AuditLog.Read.All, Policy.Read.All). */
export function insightReaders(r: Rollover, client: ReturnType<GraphEdge["client"]>): InsightReaders {
  return {
    signIns: async () => {
      const s = await readCredentialSignIns(client, r.config.graphBaseUrl);
      return s.available ? s : { available: false, detail: s.detail };
    },
    policies: () => readAppManagementPolicies(client),
    privileges: () => readPrivileges(client, r.policies.sweep.insight?.highPrivilegePermissions ?? []),
  };
}
