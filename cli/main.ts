/**
 * The `rollover` command. Exit codes (EXIT in cli/run.ts): 0 done, 1 failed or refused, 2 bad
 * usage or settings, 3 partial (done, but removals were deferred by the cap), 4 locked.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { clockFor } from "../shared/clock.js";
import { isConfigError, loadConfig, renderConfigTable } from "../shared/config.js";
import { parseSnapshot, planTenant, policiesFrom, SnapshotError } from "../shared/core/index.js";
import { renderPlan } from "./render.js";

import { safeLine } from "../shared/log.js";
import { UsageError } from "./errors.js";
import { adopt, apply, auditVerify, EXIT, rotate } from "./run.js";

export { EXIT, UsageError };

function parseCount(v: string, name: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} "${v}" must be a whole number, e.g. ${name} 10`);
  return Number(v);
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read ${path}: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("rollover")
    .description(
      "Keeps Microsoft Entra certificates fresh: renew in Key Vault, attach, verify, retire; sweep; audit.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  program
    .command("plan")
    .description(
      "Show what would change and why: each binding's next step and the sweep, with the guardrails that held things back.",
    )
    .option(
      "--snapshot <file>",
      "plan from a tenant snapshot (JSON); without it, plan live from Azure (ROLLOVER_* settings)",
    )
    .option("--json", "print the plan as JSON")
    .option(
      "--now <iso>",
      "plan as of this instant (default: the snapshot's `now`, else the current time: the sandbox's against the sandbox)",
    )
    .action(async (opts: { snapshot?: string; json?: boolean; now?: string }) => {
      const config = loadConfig(process.env);
      if (!opts.snapshot) {
        // Live: the same as `apply` without --yes — every binding's next step and the sweep, nothing changed.
        const r = await apply({ ...(opts.json ? { json: true } : {}) });
        process.exitCode = r.exitCode;
        return;
      }
      const snapshot = (() => {
        try {
          return parseSnapshot(readJsonFile(opts.snapshot));
        } catch (e) {
          if (e instanceof SnapshotError) throw new UsageError(`${opts.snapshot}: ${e.message}`);
          throw e;
        }
      })();
      let now = snapshot.now;
      if (now === undefined) {
        const clock = clockFor(config);
        await clock.sync();
        now = clock.now();
      }
      if (opts.now !== undefined) {
        const t = Date.parse(opts.now);
        if (!Number.isFinite(t))
          throw new UsageError(`--now "${opts.now}" is not a date; use ISO 8601, e.g. 2026-11-27T12:00:00Z`);
        now = t;
      }
      const policies = policiesFrom(config);
      const plan = planTenant(snapshot, policies, now, { managedMode: config.managedMode });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      } else {
        process.stdout.write(
          renderPlan(plan, {
            tenantId: snapshot.tenantId,
            mode: config.sweepMode,
            maxRemovals: config.maxRemovalsPerRun,
          }),
        );
      }
    });

  program
    .command("apply")
    .description("Reconcile every binding and sweep the tenant. A dry run unless --yes is given.")
    .option("--yes", "make the changes (without it, nothing is changed)")
    .option(
      "--max-removals <n>",
      "at most this many sweep removals in this run (overrides ROLLOVER_MAX_REMOVALS_PER_RUN)",
    )
    .option("--no-sweep", "only reconcile bindings")
    .option("--json", "print the outcome as JSON")
    .action(async (opts: { yes?: boolean; maxRemovals?: string; sweep?: boolean; json?: boolean }) => {
      const r = await apply({
        ...(opts.yes ? { yes: true } : {}),
        ...(opts.maxRemovals !== undefined
          ? { maxRemovals: parseCount(opts.maxRemovals, "--max-removals") }
          : {}),
        ...(opts.sweep === false ? { sweep: false } : {}),
        ...(opts.json ? { json: true } : {}),
      });
      process.exitCode = r.exitCode;
    });

  program
    .command("sweep")
    .description(
      "Sweep the tenant for expired, orphaned and over-long-lived credentials. Reports only, unless --apply.",
    )
    .option("--apply", "remove what policy and the guardrails allow (remove mode, capped per run)")
    .option("--max-removals <n>", "at most this many removals in this run")
    .option("--json", "print the outcome as JSON")
    .action(async (opts: { apply?: boolean; maxRemovals?: string; json?: boolean }) => {
      const r = await apply({
        bindings: false,
        ...(opts.apply ? { yes: true, removeMode: true } : {}),
        ...(opts.maxRemovals !== undefined
          ? { maxRemovals: parseCount(opts.maxRemovals, "--max-removals") }
          : {}),
        ...(opts.json ? { json: true } : {}),
      });
      process.exitCode = r.exitCode;
    });

  program
    .command("rotate")
    .description("Rotate one binding now: renew if due, attach, verify, retire after the grace window.")
    .argument("<certificate>", "the Key Vault certificate name of the binding")
    .option("--vault <name>", "the vault, when several are configured")
    .option("--dry-run", "only say what the next step would be")
    .option("--json", "print the outcome as JSON")
    .action(async (certificate: string, opts: { vault?: string; dryRun?: boolean; json?: boolean }) => {
      process.exitCode = await rotate(certificate, {
        ...(opts.vault ? { vault: opts.vault } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
        ...(opts.json ? { json: true } : {}),
      });
    });

  program
    .command("adopt")
    .description(
      "Adopt a certificate version Rollover did not issue (an import, a hand-made version), so Rollover may attach it; audited with who ran it.",
    )
    .argument("<certificate>", "the Key Vault certificate name of the binding")
    .requiredOption("--version <version>", "the certificate version to adopt")
    .option("--vault <name>", "the vault, when several are configured")
    .option("--json", "print the result as JSON")
    .action(async (certificate: string, opts: { version: string; vault?: string; json?: boolean }) => {
      process.exitCode = await adopt(certificate, {
        version: opts.version,
        ...(opts.vault ? { vault: opts.vault } : {}),
        ...(opts.json ? { json: true } : {}),
      });
    });

  program
    .command("status")
    .description(
      "Show every binding, named by its certificate: target, mode, phase, current and newest version, verification, when the old key retires, and the next action with its reason; what needs a person first. Reads only.",
    )
    .option("--json", "print the status as JSON")
    .action(async (opts: { json?: boolean }) => {
      const { status } = await import("./status.js");
      process.exitCode = await status(opts.json ? { json: true } : {});
    });

  program
    .command("sandbox")
    .description(
      "Run the local sandbox tenant (Entra, Graph, Key Vault, Event Grid, Logs Ingestion, Azurite).",
    )
    .option("--port <n>", "HTTPS port on 127.0.0.1 (0 picks a free one)", "0")
    .option("--seed <seed>", "demo, empty or scale:N", "empty")
    .option("--state <dir>", "where the CA and state are kept (default: a temp dir)")
    .option("--faults <spec>", "fault injection, e.g. graph=429@0.3/2;keyvault=503x3 (see docs/sandbox.md)")
    .action(async (opts: { port: string; seed: string; state?: string; faults?: string }) => {
      const { runSandboxCli } = await import("../sandbox/cli.js");
      try {
        await runSandboxCli({
          port: parseCount(opts.port, "--port"),
          seed: opts.seed,
          ...(opts.state !== undefined ? { state: opts.state } : {}),
          ...(opts.faults !== undefined ? { faults: opts.faults } : {}),
        });
      } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError((e as Error).message);
      }
    });

  program
    .command("serve")
    .description(
      "Run the Functions app locally under the Functions host's routes (Event Grid webhook, /api, timers, queues).",
    )
    .option("--port <n>", "HTTP port on 127.0.0.1 (0 picks a free one)", "0")
    .action(async (opts: { port: string }) => {
      const { runServeCli } = await import("./serve.js");
      await runServeCli({ port: parseCount(opts.port, "--port") });
      await new Promise<never>(() => {});
    });

  program
    .command("demo")
    .description(
      "Run the whole product on a local sandbox tenant and print a before/after report and the audit trail.",
    )
    .action(async () => {
      const { demoMain } = await import("./demo.js");
      process.exitCode = await demoMain(process.argv.slice(2));
    });

  program
    .command("report")
    .description(
      "A picture of every credential: validity windows, rotations and removals from the audit trail, grace windows and findings.",
    )
    .option("--html <file>", "write one self-contained HTML page (no network; opens from disk; prints)")
    .option("--json", "print the same data as JSON")
    .option("--since <iso>", "only audit records from this time on")
    .option(
      "--all",
      "every target with credentials, not only those with a finding, a binding or a recorded change",
    )
    .action(async (opts: { html?: string; json?: boolean; since?: string; all?: boolean }) => {
      if (!opts.html && !opts.json)
        throw new UsageError("say where the report goes: --html <file>, --json, or both");
      let since: Date | undefined;
      if (opts.since !== undefined) {
        since = new Date(opts.since);
        if (Number.isNaN(since.getTime()))
          throw new UsageError(
            `--since "${opts.since}" is not a date; use ISO 8601, e.g. 2026-01-01T00:00:00Z`,
          );
      }
      const { gatherReport } = await import("./report/gather.js");
      const { renderReportHtml } = await import("./report/html.js");
      const report = await gatherReport({
        env: process.env,
        ...(since ? { since } : {}),
        ...(opts.all ? { all: true } : {}),
      });
      if (opts.html) {
        writeFileSync(opts.html, renderReportHtml(report));
        process.stderr.write(
          `report: ${report.totals.targets} targets, ${report.totals.findings} findings, written to ${opts.html}\n`,
        );
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    });

  const audit = program.command("audit").description("The audit trail.");
  audit
    .command("verify")
    .description(
      "Check the audit records' hash chains: gaps, reordering and edits, naming the first broken record.",
    )
    .option("--since <iso>", "only records from this time on")
    .action(async (opts: { since?: string }) => {
      process.exitCode = await auditVerify(opts.since ? { since: opts.since } : {});
    });

  program
    .command("config")
    .description(
      "Check that the settings are complete for what will run (exit 2 naming each missing or bad one), and for apply/serve that Rollover's Microsoft Graph grants are in place; or print the settings table.",
    )
    .addOption(new Option("--for <purpose...>", "check only for these: plan, apply, serve (default: all)"))
    .addOption(new Option("--markdown", "print the settings table (Markdown) from the schema"))
    .action(async (opts: { markdown?: boolean; for?: string[] }) => {
      if (opts.markdown) {
        process.stdout.write(`${renderConfigTable()}\n`);
        return;
      }
      const { configCheck, parsePurposes } = await import("./config.js");
      process.exitCode = await configCheck({ purposes: parsePurposes(opts.for) });
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (e) {
    return exitCodeFor(e, (line) => process.stderr.write(line));
  }
}

/** The exit code for an error that ends a command, after saying what went wrong (one line). */
export function exitCodeFor(e: unknown, write: (line: string) => void): number {
  if (e instanceof CommanderError) {
    // Commander already printed help or the usage error.
    return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0
      ? EXIT.ok
      : EXIT.usage;
  }
  if (isConfigError(e)) {
    write(`rollover: ${safeLine(e.message)}\n`);
    return EXIT.usage;
  }
  if (e instanceof UsageError) {
    write(`rollover: ${safeLine(e.message)}\n`);
    return EXIT.usage;
  }
  write(`rollover: failed: ${safeLine((e as Error).message)}\n`);
  return EXIT.failed;
}

const isEntry =
  process.argv[1] !== undefined && /(?:bin[\\/]rollover(?:\.js)?|cli[\\/]main\.[jt]s)$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
