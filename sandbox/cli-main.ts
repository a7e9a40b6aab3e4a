/**
 * Runs the sandbox straight from the sources (`npx tsx sandbox/cli-main.ts --seed demo`), with
 * the same options as `rollover sandbox`.
 */
import { parseArgs } from "node:util";
import { runSandboxCli } from "./cli.js";

try {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      seed: { type: "string" },
      state: { type: "string" },
      faults: { type: "string" },
    },
    strict: true,
  });
  await runSandboxCli({
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values.seed !== undefined ? { seed: values.seed } : {}),
    ...(values.state !== undefined ? { state: values.state } : {}),
    ...(values.faults !== undefined ? { faults: values.faults } : {}),
  });
} catch (e) {
  process.stderr.write(`rollover sandbox: ${(e as Error).message}\n`);
  process.exit(2);
}
