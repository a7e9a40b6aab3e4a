/** Rewrites the configuration table in README.md from the settings schema (`npm run docs:config`). */
import { readFileSync, writeFileSync } from "node:fs";
import { renderConfigTable } from "../shared/config.js";

const path = new URL("../README.md", import.meta.url);
const readme = readFileSync(path, "utf8");
const next = readme.replace(
  /<!-- config-table:start -->\n[\s\S]*?\n<!-- config-table:end -->/,
  () => `<!-- config-table:start -->\n${renderConfigTable()}\n<!-- config-table:end -->`,
);
if (next !== readme) writeFileSync(path, next);
process.stdout.write(
  next !== readme ? "README.md configuration table updated\n" : "README.md configuration table is current\n",
);
