#!/usr/bin/env node
// `npm run build`: the deployable Functions artifact. One ESM bundle of functions/index.ts and
// everything it imports (shared/ and the npm packages), so a cold start loads one file; tests,
// the sandbox, the CLI and infra stay out. package.json `main` points at it; host.json sits
// beside package.json. The Node worker provides @azure/functions-core at run time.
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const outfile = "dist/app/index.js";
mkdirSync("dist/app", { recursive: true });
const result = await build({
  entryPoints: ["functions/index.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: "linked",
  minifyWhitespace: true,
  legalComments: "linked",
  external: ["@azure/functions-core"],
  // CommonJS packages inside an ESM bundle still call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __rolloverCreateRequire } from 'node:module'; const require = __rolloverCreateRequire(import.meta.url);",
  },
  metafile: true,
  logLevel: "warning",
});
const inputs = Object.keys(result.metafile.inputs);
const leaked = inputs.filter((p) => /^(test|sandbox|cli|bench|infra)\//.test(p));
if (leaked.length > 0) {
  console.error(`build: the bundle must not contain ${leaked.join(", ")}`);
  process.exit(1);
}
writeFileSync("dist/app/meta.json", JSON.stringify(result.metafile));
console.log(`build: ${outfile} (${Math.round(statSync(outfile).size / 1024)} KiB, ${inputs.length} modules)`);
