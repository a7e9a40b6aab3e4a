/**
 * What `rollover sandbox` runs: validates its options, starts the sandbox (with Azurite), prints
 * exactly one JSON line (the ready line) on stdout, logs to stderr, and on SIGINT/SIGTERM closes
 * everything and exits 0.
 */
import { FaultSpecError, parseFaultSpec } from "./faults.js";
import { parseSeedName, type SeedName } from "./seeds.js";
import { type SandboxHandle, startSandbox } from "./server.js";

export interface SandboxCliOptions {
  port?: number;
  seed?: string;
  state?: string;
  faults?: string;
}

export interface ValidSandboxCliOptions {
  port: number;
  seed: SeedName;
  state?: string;
  faults?: string;
}

/** Checks the options; throws an Error whose one-line message names the option and the fix. */
export function validateSandboxCliOptions(opts: SandboxCliOptions): ValidSandboxCliOptions {
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`--port ${String(opts.port)}: use a port number from 0 to 65535 (0 picks a free port)`);
  }
  let seed: SeedName;
  try {
    seed = parseSeedName(opts.seed ?? "empty");
  } catch (e) {
    throw new Error(`--seed: ${(e as Error).message}`);
  }
  if (opts.faults !== undefined) {
    try {
      parseFaultSpec(opts.faults);
    } catch (e) {
      if (e instanceof FaultSpecError) throw new Error(`--faults: ${e.message}`);
      throw e;
    }
  }
  if (opts.state !== undefined && opts.state.trim() === "") {
    throw new Error("--state: give a directory path (or leave the option out for a temporary directory)");
  }
  return {
    port,
    seed,
    ...(opts.state !== undefined ? { state: opts.state } : {}),
    ...(opts.faults !== undefined ? { faults: opts.faults } : {}),
  };
}

/**
 * Runs the sandbox until SIGINT or SIGTERM. Resolves once it has stopped (the process then
 * exits 0); rejects with a one-line Error for bad options or a failed start.
 */
export async function runSandboxCli(opts: SandboxCliOptions): Promise<void> {
  const valid = validateSandboxCliOptions(opts);
  const log = (line: string) => process.stderr.write(`[sandbox] ${line}\n`);
  const started = Date.now();
  const handle: SandboxHandle = await startSandbox({
    port: valid.port,
    seed: valid.seed,
    ...(valid.state !== undefined ? { stateDir: valid.state } : {}),
    ...(valid.faults !== undefined ? { faults: valid.faults } : {}),
    azurite: true,
    log,
  });
  process.stdout.write(`${handle.readyLine()}\n`);
  log(`ready in ${Date.now() - started} ms at ${handle.urls.baseUrl} (seed ${valid.seed}); Ctrl+C stops it`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: closing`);
      handle
        .close()
        .catch((e: unknown) => log(`error while closing: ${(e as Error).message}`))
        .finally(() => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  process.exitCode = 0;
  process.exit(0);
}
