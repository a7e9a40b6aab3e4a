/**
 * The `rollover` command. Exit codes: 0 done, 1 failed, 2 bad usage or settings, 3 partial
 * (done, but removals were deferred by the cap).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { isConfigError, loadConfig, renderConfigTable } from "../shared/config.js";
import { parseSnapshot, planTenant, policiesFrom, SnapshotError } from "../shared/core/index.js";
import { renderPlan } from "./render.js";

export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3 } as const;

/** A user's mistake: printed as one line, no stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
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
    .option("--snapshot <file>", "plan from a tenant snapshot (JSON) instead of live Azure")
    .option("--json", "print the plan as JSON")
    .option("--now <iso>", "plan as of this instant (default: the snapshot's `now`, else the current time)")
    .action((opts: { snapshot?: string; json?: boolean; now?: string }) => {
      const config = loadConfig(process.env);
      if (!opts.snapshot) {
        throw new UsageError(
          "rollover plan needs --snapshot <file> (a tenant snapshot; see examples/tenant.json)",
        );
      }
      const snapshot = (() => {
        try {
          return parseSnapshot(readJsonFile(opts.snapshot));
        } catch (e) {
          if (e instanceof SnapshotError) throw new UsageError(`${opts.snapshot}: ${e.message}`);
          throw e;
        }
      })();
      let now = snapshot.now ?? Date.now();
      if (opts.now !== undefined) {
        const t = Date.parse(opts.now);
        if (!Number.isFinite(t))
          throw new UsageError(`--now "${opts.now}" is not a date; use ISO 8601, e.g. 2026-11-27T12:00:00Z`);
        now = t;
      }
      const policies = policiesFrom(config);
      const plan = planTenant(snapshot, policies, now);
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
    .command("config")
    .description("Check the settings in the environment, or print the settings table.")
    .addOption(new Option("--markdown", "print the settings table (Markdown) from the schema"))
    .action((opts: { markdown?: boolean }) => {
      if (opts.markdown) {
        process.stdout.write(`${renderConfigTable()}\n`);
        return;
      }
      loadConfig(process.env);
      process.stdout.write("Settings are valid.\n");
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed help or the usage error.
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0
        ? EXIT.ok
        : EXIT.usage;
    }
    if (isConfigError(e)) {
      process.stderr.write(`rollover: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`rollover: ${e.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`rollover: failed: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
}

const isEntry =
  process.argv[1] !== undefined && /(?:bin[\\/]rollover(?:\.js)?|cli[\\/]main\.[jt]s)$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
