/**
 * Gathers what `rollover report` shows, live: every application, blueprint and service principal
 * with its credentials (Graph, as the sweep reads them), the bindings (Key Vault), the sweep's
 * findings with insight, and the audit trail from where `rollover audit verify` reads it (the
 * sandbox's store or the Log Analytics workspace).
 */
import { readAuditRecords } from "../../shared/audit/verify.js";
import type { RecordLike } from "../../shared/audit/record.js";
import { buildRollover, insightReaders } from "../../shared/app.js";
import { firstPageUrl, readTargetPage } from "../../shared/azure/graph.js";
import { runFindings } from "../../shared/core/insight.js";
import type { Target } from "../../shared/core/model.js";
import { planSweep } from "../../shared/core/sweep.js";
import { gatherBindings } from "../../shared/sweep/run.js";
import { gatherTenantFacts } from "../../shared/sweep/insight.js";
import { buildReport, type Report } from "./model.js";

export async function gatherReport(opts: {
  env: NodeJS.ProcessEnv;
  /** Default: the process's clock (the sandbox's virtual clock against the sandbox). */
  now?: number;
  since?: Date;
  all?: boolean;
}): Promise<Report> {
  const r = buildRollover(opts.env);
  await r.clock.sync();
  const now = opts.now ?? r.clock.now();
  const client = r.graph.client(r.credential);
  const tenantId = r.config.tenantId!;
  const targets: Target[] = [];
  for (const [collection, type] of [
    ["applications", "application"],
    ["servicePrincipals", "servicePrincipal"],
  ] as const) {
    let url: string | undefined = firstPageUrl(collection);
    while (url) {
      const page = await readTargetPage(client, tenantId, url, type);
      targets.push(...page.targets);
      url = page.nextLink;
    }
  }
  // The state records tell which keys Rollover attached (read only where storage is configured).
  const hasStorage = Boolean(r.config.storage || r.config.storageAccountName);
  const { bindings, protectedThumbprints } = await gatherBindings(
    [...r.vaults.values()],
    hasStorage ? r.state : undefined,
  );
  const readers = insightReaders(r, client);
  const policy = r.policies.sweep;
  const facts = await gatherTenantFacts(readers);
  const plan = planSweep(
    { targets, bindings, selfIds: r.selfIds, protectedThumbprints, insight: facts },
    { ...policy, maxRemovals: 0 },
    now,
  );
  let audit: RecordLike[] = [];
  let auditSource: string;
  if (r.config.sandboxControlUrl) {
    audit = await readAuditRecords(
      { kind: "sandbox", controlUrl: r.config.sandboxControlUrl, stream: r.config.dcrStreamName },
      opts.since,
    );
    auditSource = "the sandbox's ingested records";
  } else if (r.config.auditWorkspaceId) {
    audit = await readAuditRecords(
      { kind: "workspace", workspaceId: r.config.auditWorkspaceId, credential: r.credential },
      opts.since,
    );
    auditSource = `Log Analytics workspace ${r.config.auditWorkspaceId}`;
  } else {
    auditSource = "not read (set ROLLOVER_AUDIT_WORKSPACE_ID)";
  }
  return buildReport({
    now: now,
    tenantId,
    targets,
    bindings,
    plan,
    runFindings: runFindings(facts),
    audit,
    auditSource,
    graceMs: r.policies.binding.graceMs,
    ...(opts.all ? { all: true } : {}),
  });
}
