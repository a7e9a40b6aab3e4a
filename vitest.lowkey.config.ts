import { defineConfig } from "vitest/config";

/** The Lowkey Vault lane: Key Vault edge and a rotation against an independent emulator. */
export default defineConfig({
  test: {
    include: ["test/conformance/lowkey/**/*.lowkey-test.ts"],
    globalSetup: ["test/conformance/lowkey/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
