/**
 * `rollover status`: one block per binding, named by its certificate, needs-a-person first.
 * It only reads (Key Vault, Graph, the state table): every binding is inspected the way the
 * engine plans it, with no lease, no write and no audit record. Colour and symbols on a
 * terminal, plain words in a pipe; `--json` for machines.
 */
import { MemoryAuditSink } from "../shared/audit/events.js";
import { buildRollover, engineFor } from "../shared/app.js";
import { type StatusRow, statusOf } from "../shared/core/status.js";
import { iso } from "../shared/core/time.js";
import { mapWithConcurrency } from "../shared/rotation/concurrency.js";
import { listBindingRefs } from "../shared/rotation/reconcile.js";
import { EXIT } from "./run.js";

export interface StatusOptions {
  env?: NodeJS.ProcessEnv;
  json?: boolean;
  /** Colour and symbols (default: when stdout is a terminal). */
  color?: boolean;
  now?: () => number;
  out?: (text: string) => void;
}

/**
 * Reads every binding and plans it, changing nothing. The time is `now` when given, else the
 * settings' clock (the sandbox's against the sandbox, shared/clock.ts), read now.
 */
export async function readStatus(
  env: NodeJS.ProcessEnv,
  now?: () => number,
): Promise<{ rows: StatusRow[]; now: () => number }> {
  const r = buildRollover(env);
  await r.clock.sync();
  const clock = now ?? r.clock.now;
  const engine = engineFor(r, { audit: new MemoryAuditSink(), dryRun: true, now: clock });
  const refs = await listBindingRefs(r.vaults.values());
  const inspected = await mapWithConcurrency(refs, r.config.concurrency, (ref) => engine.inspect(ref));
  return { rows: statusOf(inspected, r.policies.binding), now: clock };
}

/** "in 3 d", "5 h ago", "now": rounded, so a few seconds either way read the same. */
export function relative(at: number, now: number): string {
  const delta = at - now;
  const abs = Math.abs(delta);
  if (abs < 60_000) return "now";
  const [n, unit] =
    abs < 90 * 60_000
      ? [Math.round(abs / 60_000), "min"]
      : abs < 36 * 3_600_000
        ? [Math.round(abs / 3_600_000), "h"]
        : [Math.round(abs / 86_400_000), "d"];
  return delta > 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

function shortVersion(v: string): string {
  return `#${v.slice(0, 8)}`;
}

const STYLE = {
  needsPerson: { symbol: "✗", word: "needs a person", plain: "NEEDS-PERSON", color: "\x1b[31m" },
  transient: { symbol: "↻", word: "retrying", plain: "RETRYING", color: "\x1b[33m" },
  fine: { symbol: "✓", word: "ok", plain: "OK", color: "\x1b[32m" },
} as const;
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";

/** The rows as text for people. */
export function renderStatus(
  rows: readonly StatusRow[],
  now: number,
  opts: { color?: boolean } = {},
): string {
  const color = opts.color ?? false;
  const vaults = new Set(rows.map((r) => r.vault));
  const people = rows.filter((r) => r.needsPerson).length;
  const lines: string[] = [
    `Rollover status: ${rows.length} binding${rows.length === 1 ? "" : "s"}, ${people} need${people === 1 ? "s" : ""} a person`,
  ];
  const field = (name: string, value: string) =>
    `    ${color ? DIM : ""}${name.padEnd(10)}${color ? RESET : ""} ${value}`;
  const ver = (v: StatusRow["current"]) => {
    if (!v) return "—";
    const when = relative(v.expires, now);
    return `${shortVersion(v.version)}, ${v.expires <= now ? `expired ${when}` : `expires ${when}`}`;
  };
  for (const r of rows) {
    const s = STYLE[r.next.class];
    const name = vaults.size > 1 ? `${r.certificate} (${r.vault})` : r.certificate;
    lines.push("");
    lines.push(
      color ? `${s.color}${s.symbol} ${name}${RESET}  ${s.color}${s.word}${RESET}` : `${s.plain} ${name}`,
    );
    if (r.target) {
      const t = r.target;
      lines.push(
        field(
          "target",
          `${t.type} ${t.displayName ?? "(not found)"} ${t.id}${t.tenantId ? ` in tenant ${t.tenantId}` : ""}`,
        ),
      );
      lines.push(field("mode", `${r.mode ?? "—"}, phase ${r.phase ?? "—"}`));
      lines.push(field("current", ver(r.current)));
      lines.push(field("newest", ver(r.newest)));
      lines.push(field("verified", r.verifiedAt !== undefined ? relative(r.verifiedAt, now) : "—"));
      lines.push(field("old key", r.retiresAt !== undefined ? `retires ${relative(r.retiresAt, now)}` : "—"));
      if (r.lastError) {
        const again =
          r.lastError.nextAttemptAt !== undefined
            ? `, next attempt ${relative(r.lastError.nextAttemptAt, now)}`
            : "";
        lines.push(field("failed", `${r.lastError.attempts}× in a row${again}: ${r.lastError.message}`));
      }
    }
    const until = r.next.until !== undefined ? ` (ends ${relative(r.next.until, now)})` : "";
    lines.push(field("next", `${r.next.action}${until} [${r.next.reason}] ${r.next.text}`));
  }
  return `${lines.join("\n")}\n`;
}

/** The rows as JSON: dates in ISO 8601. */
export function statusJson(rows: readonly StatusRow[], now: number): unknown {
  const d = (ms: number | undefined) => (ms === undefined ? undefined : iso(ms));
  return {
    at: iso(now),
    needsPerson: rows.filter((r) => r.needsPerson).length,
    bindings: rows.map((r) => ({
      ...r,
      current: r.current && { version: r.current.version, expires: d(r.current.expires) },
      newest: r.newest && { version: r.newest.version, expires: d(r.newest.expires) },
      verifiedAt: d(r.verifiedAt),
      retiresAt: d(r.retiresAt),
      lastError: r.lastError && { ...r.lastError, nextAttemptAt: d(r.lastError.nextAttemptAt) },
      next: { ...r.next, until: d(r.next.until) },
    })),
  };
}

/** Exit code: 0 when nothing needs a person, 1 when something does (a refusal, a read that failed). */
export async function status(opts: StatusOptions = {}): Promise<number> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const { rows, now } = await readStatus(opts.env ?? process.env, opts.now);
  const at = now();
  if (opts.json) out(`${JSON.stringify(statusJson(rows, at), null, 2)}\n`);
  else out(renderStatus(rows, at, { color: opts.color ?? (!opts.out && process.stdout.isTTY === true) }));
  return rows.some((r) => r.needsPerson) ? EXIT.failed : EXIT.ok;
}
