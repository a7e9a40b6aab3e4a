/**
 * `rollover bind`, `rollover unbind`, `rollover migrate-secret`: a service joins and leaves
 * Rollover with one command each. They run as the person at the keyboard
 * (`DefaultAzureCredential`: in practice their Azure CLI sign-in), audit every step with that
 * person as the actor, and do nothing without `--yes`. Bad input ends with exit code 2 and one
 * line naming the option and the fix, before anything is created.
 */
import type { Command } from "commander";
import type { TokenCredential } from "@azure/identity";
import { buildRollover } from "../shared/app.js";
import { graphScope } from "../shared/azure/graph.js";
import { credentialActor } from "../shared/azure/entra.js";
import { operatorCredential } from "../shared/azure/onboard.js";
import { loadConfig } from "../shared/config.js";
import { type BindInput, OnboardInputError, parseBindInput } from "../shared/onboard/plan.js";
import { recordIssuedByRollover } from "../shared/onboard/provenance.js";
import {
  bind,
  migrateSecret,
  nextSteps,
  type OnboardContext,
  type OnboardResult,
  unbind,
} from "../shared/onboard/run.js";
import { UsageError } from "./errors.js";
import { openRunAudit } from "./run.js";

export interface OnboardRunOptions {
  env?: NodeJS.ProcessEnv;
  /** The person's credential (default: DefaultAzureCredential). */
  credential?: TokenCredential;
  now?: () => number;
  json?: boolean;
  out?: (text: string) => void;
}

/** Builds the context for one command: Rollover as the person, their name, the audit writer. */
async function withContext<T extends OnboardResult>(
  o: OnboardRunOptions,
  run: (ctx: OnboardContext) => Promise<T>,
): Promise<T> {
  const env = o.env ?? process.env;
  const config = loadConfig(env, ["tenantId", "vaultUrls"]);
  const credential = o.credential ?? operatorCredential(config.authorityHost);
  const r = buildRollover(env, { credential });
  await r.clock.sync();
  let actor: string;
  try {
    actor = await credentialActor(credential, graphScope(config.graphBaseUrl));
  } catch (e) {
    throw new UsageError(
      `cannot sign in as you (${String((e as Error).message).split("\n")[0]}); run az login (or set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, see DefaultAzureCredential)`,
    );
  }
  const out = o.out ?? ((t: string) => process.stdout.write(t));
  const audit = openRunAudit(r, "cli", false, actor);
  const ctx: OnboardContext = {
    r,
    actor,
    audit: audit.sink,
    now: o.now ?? r.clock.now,
    createWaitMs: 120_000,
    verifyTimeoutMs: config.verifyTimeoutSeconds * 1000,
    say: o.json ? () => {} : (line) => out(`${line}\n`),
    recordIssued: (vault, name, issued) => recordIssuedByRollover(r, vault, name, issued, r.clock.now()),
  };
  try {
    return await run(ctx);
  } catch (e) {
    if (e instanceof OnboardInputError) throw new UsageError(e.message);
    throw e;
  } finally {
    const note = await audit.close();
    if (!o.json) process.stderr.write(`${note}\n`);
  }
}

function print(o: OnboardRunOptions, summary: unknown): void {
  if (o.json) (o.out ?? ((t: string) => process.stdout.write(t)))(`${JSON.stringify(summary, null, 2)}\n`);
}

function parse(input: BindInput) {
  try {
    return parseBindInput(input);
  } catch (e) {
    if (e instanceof OnboardInputError) throw new UsageError(e.message);
    throw e;
  }
}

export async function runBind(input: BindInput, yes: boolean, o: OnboardRunOptions = {}): Promise<number> {
  const req = parse(input);
  const r = await withContext(o, async (ctx) => {
    const res = await bind(ctx, req, { yes });
    if (res.summary.result === "bound" && !o.json)
      for (const l of nextSteps({
        target: res.target,
        vault: res.vault,
        certificateName: res.plan.certificateName,
      }))
        ctx.say(l);
    return res;
  });
  print(o, r.summary);
  return r.exitCode;
}

export async function runUnbind(
  certificate: string,
  opts: { vault?: string; yes: boolean; force: boolean },
  o: OnboardRunOptions = {},
): Promise<number> {
  const r = await withContext(o, (ctx) => unbind(ctx, certificate, opts));
  print(o, r.summary);
  return r.exitCode;
}

export async function runMigrateSecret(
  input: BindInput,
  opts: { yes: boolean; removeSecrets: boolean },
  o: OnboardRunOptions = {},
): Promise<number> {
  const req = parse(input);
  const r = await withContext(o, (ctx) => migrateSecret(ctx, req, opts));
  print(o, r.summary);
  return r.exitCode;
}

interface BindFlags {
  vault?: string;
  name?: string;
  type?: string;
  tenant?: string;
  clientId?: string;
  validityMonths?: string;
  keyType?: string;
  keySize?: string;
  mode?: string;
  yes?: boolean;
  json?: boolean;
}

function bindOptions(cmd: Command): Command {
  return cmd
    .option("--vault <name>", "the vault (its name or URL; may be left out when one vault is configured)")
    .option("--name <certificate>", "the certificate's name (default: from the target's display name)")
    .option("--type <type>", "application, agentIdentityBlueprint or servicePrincipal")
    .option("--tenant <id>", "the target's tenant, where it is not the deployment's own")
    .option(
      "--client-id <id>",
      "the target's client id, for a target in another tenant (default: its app id)",
    )
    .option("--validity-months <n>", "validity of each version, 1 to 1200 months", "12")
    .option("--key-type <type>", "RSA or RSA-HSM", "RSA")
    .option("--key-size <bits>", "2048, 3072 or 4096", "2048")
    .option("--mode <mode>", "self or managed (default: Rollover chooses, self where it can)")
    .option("--yes", "do it (without it, only say what would be done)")
    .option("--json", "print the outcome as JSON");
}

function toInput(target: string, f: BindFlags): BindInput {
  return {
    target,
    vault: f.vault,
    name: f.name,
    type: f.type,
    tenant: f.tenant,
    clientId: f.clientId,
    validityMonths: f.validityMonths,
    keyType: f.keyType,
    keySize: f.keySize,
    mode: f.mode,
  };
}

/** Adds bind, unbind and migrate-secret to the program. */
export function registerOnboardCommands(program: Command): void {
  bindOptions(
    program
      .command("bind")
      .description(
        "Join Rollover: create a non-exportable certificate in Key Vault, tag it for the target, put its key on the target and prove it works. Runs as you; does nothing without --yes.",
      )
      .argument("<target>", "the target's object id, app id or display name"),
  ).action(async (target: string, f: BindFlags) => {
    process.exitCode = await runBind(toInput(target, f), f.yes === true, { json: f.json === true });
  });

  program
    .command("unbind")
    .description(
      "Leave Rollover: remove the keys the binding put on the target, remove its tags and disable its versions (Key Vault keeps them). Does nothing without --yes.",
    )
    .argument("<certificate>", "the binding's Key Vault certificate name")
    .option("--vault <name>", "the vault, when several are configured")
    .option("--force", "go ahead although sign-in data is unreadable or shows the keys in use")
    .option("--yes", "do it (without it, only say what would be done)")
    .option("--json", "print the outcome as JSON")
    .action(
      async (certificate: string, f: { vault?: string; force?: boolean; yes?: boolean; json?: boolean }) => {
        process.exitCode = await runUnbind(
          certificate,
          { ...(f.vault ? { vault: f.vault } : {}), yes: f.yes === true, force: f.force === true },
          { json: f.json === true },
        );
      },
    );

  bindOptions(
    program
      .command("migrate-secret")
      .description(
        "Move a service off its client secrets: bind a certificate, then report on each run whether the service has switched; --remove-secrets removes the secrets once it has.",
      )
      .argument("<target>", "the target's object id, app id or display name")
      .option("--remove-secrets", "remove the target's client secrets (only once the service has switched)"),
  ).action(async (target: string, f: BindFlags & { removeSecrets?: boolean }) => {
    process.exitCode = await runMigrateSecret(
      toInput(target, f),
      { yes: f.yes === true, removeSecrets: f.removeSecrets === true },
      { json: f.json === true },
    );
  });
}
