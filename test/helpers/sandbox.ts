/**
 * Starts a sandbox for one test file, sharing the CA the global setup made (so the worker's
 * NODE_EXTRA_CA_CERTS trusts it). Use inside a `describe` or at the top of a file:
 *
 *   const sb = useSandbox({ seed: "demo" });
 *   it("…", async () => { const { urls } = sb(); … });
 */
import { afterAll, beforeAll } from "vitest";
import { type SandboxHandle, type SandboxOptions, startSandbox } from "../../sandbox/index.js";

export function sandboxStateDir(): string {
  const dir = process.env.ROLLOVER_TEST_SANDBOX_STATE;
  if (!dir)
    throw new Error(
      "ROLLOVER_TEST_SANDBOX_STATE is not set: run tests through vitest (see vitest.config.ts)",
    );
  return dir;
}

export function useSandbox(options: SandboxOptions = {}): () => SandboxHandle {
  let handle: SandboxHandle | undefined;
  beforeAll(async () => {
    handle = await startSandbox({ azurite: false, log: () => {}, ...options, stateDir: sandboxStateDir() });
  });
  afterAll(async () => {
    await handle?.close();
  });
  return () => {
    if (!handle) throw new Error("sandbox not started yet");
    return handle;
  };
}
