/**
 * The commands that talk to Azure (or the sandbox): apply, sweep, rotate, and audit verify.
 * Each builds Rollover from the environment (shared/app.ts), runs, prints a summary, and makes
 * sure its audit records are sent or stored before it exits.
 */
import { randomUUID } from "node:crypto";
import type { AuditSink, Trigger } from "../shared/audit/events.js";
import type { TokenCredential } from "@azure/identity";
import { type VerifyAuditOptions, verifyAudit } from "../shared/audit/verify.js";
import { KeyVaultCheckpointKey } from "../shared/azure/audit-signing.js";
import { openAuditStorage } from "../shared/azure/audit-spool.js";
import { credentialActor, rolloverCredential } from "../shared/azure/entra.js";
import { buildRollover, engineFor, type Rollover, sweepDepsFor } from "../shared/app.js";
import { loadConfig } from "../shared/config.js";
import { bindingFromTags } from "../shared/core/binding.js";
import { EMPTY_STATE } from "../shared/core/model.js";
import { markAdopted } from "../shared/core/provenance.js";
import { Reason } from "../shared/core/reasons.js";
import { type BindingOutcome, bindingKey } from "../shared/rotation/engine.js";
import { listBindingRefs, reconcileAll } from "../shared/rotation/reconcile.js";
import { runSweep, type SweepSummary } from "../shared/sweep/run.js";
import { orderFindings } from "../shared/core/insight.js";
import type { ReasonCode } from "../shared/core/reasons.js";
import { UsageError } from "./errors.js";

/**
 * Exit codes of every command (README "Exit codes"): 0 done; 1 failed, or refused (something
 * needs a person); 2 bad usage or settings; 3 partial (done, but removals were deferred by the
 * cap); 4 locked (another run holds the binding: try again shortly).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3, locked: 4 } as const;

/** The exit code of one binding's outcome. */
export function exitForOutcome(o: Pick<BindingOutcome, "result">): number {
  if (o.result === "failed" || o.result === "refused") return EXIT.failed;
  if (o.result === "locked") return EXIT.locked;
  return EXIT.ok;
}

/** The scope Rollover's credential asks for Key Vault; its token's claims name who is acting. */
const KEY_VAULT_SCOPE = "https://vault.azure.net/.default";

/** Progress on a terminal; nothing in a pipe. */
export function progress(stream: NodeJS.WriteStream = process.stderr): (line: string) => void {
  if (!stream.isTTY) return () => {};
  return (line) => stream.write(`\r\x1b[2K${line}`);
}

function endProgress(stream: NodeJS.WriteStream = process.stderr): void {
  if (stream.isTTY) stream.write("\r\x1b[2K");
}

export interface RunAudit {
  sink: AuditSink;
  close(): Promise<string>;
}

/**
 * The run's audit writer: Logs Ingestion when configured, else counted and said so. Nothing is
 * kept for the whole run: the writer holds what was emitted since its last flush (the sweep
 * flushes after every page), so a run over a large tenant holds a page's records, not the run's.
 */
export function openRunAudit(r: Rollover, trigger: Trigger, dryRun: boolean, person?: string): RunAudit {
  const runId = randomUUID();
  const actor = person ?? r.config.identityObjectId ?? r.config.clientId ?? "rollover-cli";
  if (r.audit) {
    const writer = r.audit.writer({ runId, trigger, actor, dryRun });
    return {
      sink: writer,
      async close() {
        await writer.close();
        // Totals over the run: checkpoints send records before the close.
        const res = writer.totals;
        return `audit: ${res.sent} records sent, ${res.spooled} stored to send later`;
      },
    };
  }
  let unsent = 0;
  return {
    sink: {
      emit: () => {
        unsent += 1;
      },
    },
    close: async () =>
      `audit: Logs Ingestion is not configured (ROLLOVER_LOGS_INGESTION_ENDPOINT); ${unsent} records were not sent`,
  };
}

export function renderOutcomes(outcomes: readonly BindingOutcome[]): string {
  const lines = outcomes.map((o) => {
    const steps = o.steps.map((s) => s.kind).join(" → ") || "—";
    return `  ${o.result.padEnd(9)} ${`${o.ref.vaultName}/${o.ref.certificateName}`.padEnd(40)} ${steps.padEnd(34)} [${o.reason}] ${o.message}`;
  });
  return lines.join("\n");
}

export function renderSweep(s: SweepSummary): string {
  // The most severe findings first (HighPrivilegeCredential), the rest as found.
  const kv = (o: Partial<Record<string, number>>) =>
    orderFindings(Object.entries(o).map(([reason, n]) => ({ reason: reason as ReasonCode, n })))
      .map(({ reason, n }) => `${reason} ${n}`)
      .join(", ") || "none";
  return [
    `  pages ${s.pages}, objects ${s.targets}`,
    `  findings: ${kv(s.findings)}`,
    `  removed ${s.removed} (${kv(s.paths)}), failed ${s.failed}, deferred by the cap or budget ${s.deferred}, reported only ${s.reportedOnly}`,
    `  held back by guardrails: ${kv(s.held)}`,
  ].join("\n");
}

export interface ApplyOptions {
  yes?: boolean;
  maxRemovals?: number;
  json?: boolean;
  sweep?: boolean;
  bindings?: boolean;
  removeMode?: boolean;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  trigger?: Trigger;
  out?: (text: string) => void;
}

export interface ApplyResult {
  outcomes: BindingOutcome[];
  sweep?: SweepSummary;
  exitCode: number;
}

/**
 * Reconciles every binding and sweeps the tenant. Without `yes` it is a dry run: it plans and
 * reports, and changes nothing.
 */
export async function apply(opts: ApplyOptions): Promise<ApplyResult> {
  const env = { ...(opts.env ?? process.env) };
  if (opts.maxRemovals !== undefined) env.ROLLOVER_MAX_REMOVALS_PER_RUN = String(opts.maxRemovals);
  if (opts.removeMode) env.ROLLOVER_SWEEP_MODE = "remove";
  const r = buildRollover(env);
  await r.clock.sync();
  const dryRun = !opts.yes;
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const audit = openRunAudit(r, opts.trigger ?? "cli", dryRun);
  const show = progress();
  let outcomes: BindingOutcome[] = [];
  let sweep: SweepSummary | undefined;
  try {
    if (opts.bindings !== false) {
      const engine = engineFor(r, { audit: audit.sink, dryRun, ...(opts.now ? { now: opts.now } : {}) });
      const refs = await listBindingRefs(r.vaults.values());
      const summary = await reconcileAll(engine, refs, {
        concurrency: r.config.concurrency,
        onProgress: (done, total) => show(`bindings ${done}/${total}`),
      });
      outcomes = summary.outcomes;
      endProgress();
    }
    if (opts.sweep !== false) {
      sweep = await runSweep(
        sweepDepsFor(r, {
          audit: audit.sink,
          dryRun,
          ...(opts.now ? { now: opts.now } : {}),
          onPage: (p) => show(`sweep ${p.collection} page ${p.page} (${p.targets} objects)`),
        }),
      );
      endProgress();
    }
  } finally {
    const note = await audit.close();
    if (!opts.json) process.stderr.write(`${note}\n`);
  }
  const failed = outcomes.some((o) => o.result === "failed") || (sweep?.failed ?? 0) > 0;
  const exitCode = failed ? EXIT.failed : (sweep?.deferred ?? 0) > 0 ? EXIT.partial : EXIT.ok;
  if (opts.json) {
    out(`${JSON.stringify({ dryRun, outcomes, sweep, exitCode }, null, 2)}\n`);
  } else {
    out(
      [
        dryRun ? "Dry run: nothing was changed (add --yes to apply)." : "Applied.",
        ...(opts.bindings !== false ? [`Bindings (${outcomes.length})`, renderOutcomes(outcomes)] : []),
        ...(sweep ? ["Sweep", renderSweep(sweep)] : []),
        "",
      ].join("\n"),
    );
  }
  return { outcomes, ...(sweep ? { sweep } : {}), exitCode };
}

/** Rotates (reconciles) one binding now, by certificate name, in whichever configured vault holds it. */
export async function rotate(
  certificate: string,
  opts: { vault?: string; dryRun?: boolean; env?: NodeJS.ProcessEnv; json?: boolean },
): Promise<number> {
  const r = buildRollover(opts.env ?? process.env);
  await r.clock.sync();
  const vaults = opts.vault
    ? [...r.vaults.values()].filter((v) => v.name === opts.vault)
    : [...r.vaults.values()];
  if (vaults.length === 0)
    throw new UsageError(`no configured vault named ${opts.vault} (ROLLOVER_VAULT_URLS)`);
  const audit = openRunAudit(r, "cli", opts.dryRun ?? false);
  let outcome: BindingOutcome | undefined;
  try {
    const engine = engineFor(r, { audit: audit.sink, dryRun: opts.dryRun ?? false });
    for (const v of vaults) {
      if (!(await v.observe(certificate))) continue;
      // A person runs this on purpose: a step that stopped after repeated failures is tried again.
      outcome = await engine.reconcile(
        { vaultName: v.name, certificateName: certificate },
        { resetFailures: true },
      );
      break;
    }
  } finally {
    process.stderr.write(`${await audit.close()}\n`);
  }
  if (!outcome)
    throw new UsageError(`certificate ${certificate} not found in ${vaults.map((v) => v.name).join(", ")}`);
  process.stdout.write(
    opts.json ? `${JSON.stringify(outcome, null, 2)}\n` : `${renderOutcomes([outcome])}\n`,
  );
  return exitForOutcome(outcome);
}

/**
 * Verifies the audit trail's hash chains: from the sandbox locally, from the workspace in Azure.
 * With Rollover's storage (AzureWebJobsStorage) it reads the chain heads and the spool, so a
 * missing tail, records appended by someone else and a chain Rollover never wrote fail; with
 * ROLLOVER_AUDIT_SIGNING_KEY_ID every head must carry a checkpoint signed by that key.
 */
export async function auditVerify(opts: { since?: string; env?: NodeJS.ProcessEnv }): Promise<number> {
  const env = opts.env ?? process.env;
  const config = loadConfig(env);
  let since: Date | undefined;
  if (opts.since) {
    since = new Date(opts.since);
    if (Number.isNaN(since.getTime()))
      throw new UsageError(`--since "${opts.since}" is not a date; use ISO 8601, e.g. 2026-11-01T00:00:00Z`);
  }
  let credential: TokenCredential | undefined;
  const cred = () => {
    credential ??= rolloverCredential({ authorityHost: config.authorityHost, clientId: config.clientId });
    return credential;
  };
  const options: VerifyAuditOptions = since ? { since } : {};
  if (config.storage || config.storageAccountName) {
    const { chains, spool } = openAuditStorage(
      config.storage
        ? { connectionString: config.storage }
        : { accountName: config.storageAccountName!, credential: cred() },
    );
    options.chains = chains;
    options.spool = spool;
  } else {
    process.stderr.write(
      "audit verify: no AzureWebJobsStorage: chain heads and spool not read, so a cut-off tail or an appended chain cannot be seen\n",
    );
  }
  if (config.auditSigningKeyId)
    options.verifier = new KeyVaultCheckpointKey(config.auditSigningKeyId, cred());
  else
    process.stderr.write(
      "audit verify: ROLLOVER_AUDIT_SIGNING_KEY_ID is not set: chain heads are not checked for Rollover's signature\n",
    );
  let result: Awaited<ReturnType<typeof verifyAudit>>;
  if (config.sandboxControlUrl) {
    result = await verifyAudit(
      { kind: "sandbox", controlUrl: config.sandboxControlUrl, stream: config.dcrStreamName },
      options,
    );
  } else if (config.auditWorkspaceId) {
    result = await verifyAudit(
      { kind: "workspace", workspaceId: config.auditWorkspaceId, credential: cred() },
      options,
    );
  } else {
    throw new UsageError(
      "set ROLLOVER_AUDIT_WORKSPACE_ID (the Log Analytics workspace) or ROLLOVER_SANDBOX_CONTROL_URL (the sandbox) to verify the audit trail",
    );
  }
  process.stdout.write(`${result.text}\n`);
  return result.exitCode;
}

/**
 * `rollover adopt <certificate> --version <v>`: a person declares a version Rollover did not
 * issue (an import, a version made by hand or by Key Vault's AutoRenew) as wanted, so Rollover
 * may attach it. Recorded in the binding's state (under its lease) and audited with who ran it,
 * taken from the claims of the token their credential gets.
 */
export async function adopt(
  certificate: string,
  opts: { version: string; vault?: string; env?: NodeJS.ProcessEnv; json?: boolean; now?: () => number },
): Promise<number> {
  const r = buildRollover(opts.env ?? process.env);
  await r.clock.sync();
  const vaults = opts.vault
    ? [...r.vaults.values()].filter((v) => v.name === opts.vault)
    : [...r.vaults.values()];
  if (vaults.length === 0)
    throw new UsageError(`no configured vault named ${opts.vault} (ROLLOVER_VAULT_URLS)`);
  let found: { vault: (typeof vaults)[number]; tags: Record<string, string> } | undefined;
  for (const v of vaults) {
    const kv = await v.observe(certificate);
    if (!kv) continue;
    const version = kv.versions.find((x) => x.version === opts.version);
    if (!version)
      throw new UsageError(
        `certificate ${certificate} in ${v.name} has no version ${opts.version}; see its versions in Key Vault`,
      );
    if (!version.enabled) throw new UsageError(`version ${opts.version} of ${certificate} is disabled`);
    found = { vault: v, tags: kv.tags };
    break;
  }
  if (!found)
    throw new UsageError(`certificate ${certificate} not found in ${vaults.map((v) => v.name).join(", ")}`);
  const ref = { vaultName: found.vault.name, certificateName: certificate };
  const binding = bindingFromTags(ref.vaultName, certificate, found.tags);
  if (!binding?.ok)
    throw new UsageError(`certificate ${certificate} is not a binding (no valid rollover-* tags)`);
  const actor = await credentialActor(r.credential, KEY_VAULT_SCOPE);
  const lease = await r.leases.acquire(bindingKey(ref));
  if (!lease) {
    process.stderr.write(`${certificate}: another run holds the binding's lease; try again in a minute\n`);
    return EXIT.locked;
  }
  const audit = openRunAudit(r, "cli", false, actor);
  const now = (opts.now ?? r.clock.now)();
  try {
    const state = (await r.state.get(ref.vaultName, certificate)) ?? EMPTY_STATE;
    await r.state.put(ref.vaultName, certificate, markAdopted(state, opts.version, actor, now), "pending");
    audit.sink.emit({
      action: "adopt",
      outcome: "succeeded",
      reason: Reason.VersionAdopted,
      message: `version ${opts.version} adopted on purpose by ${actor}; Rollover may attach it`,
      vaultName: ref.vaultName,
      certificateName: certificate,
      certificateVersion: opts.version,
      targetObjectId: binding.binding.targetId,
      targetType: binding.binding.targetType,
    });
  } finally {
    await lease.release();
    process.stderr.write(`${await audit.close()}\n`);
  }
  const result = { certificate, vault: ref.vaultName, version: opts.version, adoptedBy: actor };
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(result, null, 2)}\n`
      : `Adopted ${ref.vaultName}/${certificate} version ${opts.version} (by ${actor}). The next run attaches it.\n`,
  );
  return EXIT.ok;
}
