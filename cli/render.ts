/** Text rendering of a tenant plan for people: what would change, why, and what held back what. */
import { type BindingEntry, REASON_TEXT, type ReasonCode, type TenantPlan } from "../shared/core/index.js";

const DAY_MS = 86_400_000;

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function rel(ms: number, now: number): string {
  const d = Math.round((ms - now) / DAY_MS);
  if (d === 0) return "today";
  return d > 0 ? `in ${d} d` : `${-d} d ago`;
}

function short(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

function why(reason: ReasonCode): string {
  return `[${reason}] ${REASON_TEXT[reason] ?? ""}`.trim();
}

function bindingLines(b: BindingEntry, now: number): string[] {
  const head = `  ${b.vaultName}/${b.certificateName} → ${b.targetDisplayName ?? b.targetId ?? "?"}`;
  if (b.refusal)
    return [head, `      REFUSE   ${b.refusal.message}`, `               ${why(b.refusal.reason)}`];
  const p = b.plan!;
  const s = p.step;
  const cur = p.current
    ? ` (current ${short(p.current.version)}, expires ${day(p.current.expires)}, ${rel(p.current.expires, now)})`
    : "";
  let action: string;
  switch (s.kind) {
    case "renew":
      action = `RENEW    ask Key Vault for a new version of ${short(s.version)}`;
      break;
    case "attach":
      action = `ATTACH   add version ${short(s.version)}'s public key (${s.mode} mode${s.signWith ? `, proof signed by ${short(s.signWith)}` : ""})`;
      break;
    case "verify":
      action = `VERIFY   acquire a token with version ${short(s.version)}`;
      break;
    case "retire":
      action = `RETIRE   remove previous key ${short(s.keyId)} (thumbprint ${s.thumbprint.slice(0, 8)}…, ${s.mode} mode)`;
      break;
    case "wait":
      action = `WAIT     ${s.until !== undefined ? `until ${new Date(s.until).toISOString().replace(".000Z", "Z")}` : "for the next run"}`;
      break;
    case "refuse":
      action = `REFUSE   ${s.message}`;
      break;
    default:
      action = "OK       nothing to do";
  }
  return [`${head} [${p.phase}]${cur}`, `      ${action}`, `               ${why(s.reason)}`];
}

export function renderPlan(
  plan: TenantPlan,
  opts: { tenantId: string; mode: "report" | "remove"; maxRemovals: number },
): string {
  const now = plan.now;
  const out: string[] = [];
  out.push(
    `Rollover plan for tenant ${opts.tenantId}, as of ${new Date(now).toISOString().replace(".000Z", "Z")}`,
    `Sweep mode: ${opts.mode}${opts.mode === "report" ? " (nothing is removed)" : ""}; at most ${opts.maxRemovals} removals per run.`,
    "",
    `Bindings (${plan.bindings.length})`,
  );
  for (const b of plan.bindings) out.push(...bindingLines(b, now));
  if (plan.bindings.length === 0) out.push("  (none: no Key Vault certificate carries rollover-* tags)");

  out.push("", `Sweep findings (${plan.sweep.findings.length})`);
  for (const f of plan.sweep.findings) {
    out.push(
      `  ${f.reason.padEnd(24)} ${f.displayName} (${f.targetType}) ${f.credential} ${short(f.keyId)} ends ${day(f.end)}: ${f.message}`,
    );
  }
  const verb = opts.mode === "remove" ? "Removals" : "Removals (would be made in remove mode)";
  out.push("", `${verb} (${plan.sweep.removals.length})`);
  for (const r of plan.sweep.removals) {
    out.push(
      `  REMOVE   ${r.finding.displayName}: ${r.finding.credential} ${short(r.finding.keyId)} via ${r.path?.kind === "removeKey" ? "removeKey as the target" : "managed mode"}  ${why(r.reason)}`,
    );
  }
  out.push("", `Held back by guardrails (${plan.sweep.held.length})`);
  for (const h of plan.sweep.held) {
    out.push(
      `  HOLD     ${h.finding.displayName}: ${h.finding.credential} ${short(h.finding.keyId)}  ${why(h.guard)}${h.allowWith ? ` Would take: ${h.allowWith}.` : ""}`,
    );
  }
  if (plan.issues.length > 0) {
    out.push("", `Problems in the input (${plan.issues.length})`);
    for (const i of plan.issues) out.push(`  ${i.reason.padEnd(24)} ${i.message}`);
  }
  const count = (k: string) => plan.bindings.filter((b) => b.plan?.step.kind === k).length;
  const refusals = plan.bindings.filter((b) => b.refusal || b.plan?.step.kind === "refuse").length;
  const deferred = plan.sweep.held.filter((h) => h.guard === "GuardRemovalCap").length;
  out.push(
    "",
    `Summary: ${count("renew")} to renew, ${count("attach")} to attach, ${count("verify")} to verify, ${count("retire")} to retire, ` +
      `${count("wait")} waiting, ${refusals} refused; ${plan.sweep.findings.length} findings, ` +
      `${plan.sweep.removals.length} removals, ${plan.sweep.held.length - deferred} held by guardrails, ${deferred} deferred by the cap.`,
  );
  return `${out.join("\n")}\n`;
}
