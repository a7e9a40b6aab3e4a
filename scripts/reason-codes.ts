/** Rewrites the table in docs/reason-codes.md from the reason registry (`npm run docs:reasons`). */
import { readFileSync, writeFileSync } from "node:fs";
import { renderReasonTable } from "../shared/core/reasons.js";

const path = new URL("../docs/reason-codes.md", import.meta.url);
const doc = readFileSync(path, "utf8");
const next = doc.replace(
  /<!-- reason-table:start -->\n[\s\S]*?\n<!-- reason-table:end -->/,
  () => `<!-- reason-table:start -->\n${renderReasonTable()}\n<!-- reason-table:end -->`,
);
if (next !== doc) writeFileSync(path, next);
process.stdout.write(
  next !== doc ? "docs/reason-codes.md table updated\n" : "docs/reason-codes.md table is current\n",
);
