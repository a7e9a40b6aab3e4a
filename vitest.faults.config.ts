import { defineConfig } from "vitest/config";

/** The fault matrix (npm run test:faults): its own run, not part of npm test. */
export default defineConfig({
  test: {
    include: ["test/faults/**/*.fault.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
