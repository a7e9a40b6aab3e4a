#!/usr/bin/env node
// Entry point of the `rollover` command. The TypeScript sources are compiled to dist/ by
// `npm ci` (the `prepare` script), so a fresh clone has a working command right away.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    "rollover: not built yet. Run `npm ci` (or `npx tsc -p tsconfig.build.json`) in the repository root first.\n",
  );
  process.exit(2);
}
await import(main.href);
