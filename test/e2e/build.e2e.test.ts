/**
 * `npm run build`: one bundle, loaded the way the Functions Node worker loads it (package.json
 * `main`, with the worker's `@azure/functions-core` providing registerFunction), registers the
 * five functions of the definition table with their triggers; host.json matches.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Binding {
  type: string;
  direction: string;
  [k: string]: unknown;
}

describe("the Functions artifact", () => {
  it("is one bundle at package.json main that registers every function with its trigger", {
    timeout: 120_000,
  }, () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      main: string;
      scripts: Record<string, string>;
    };
    expect(pkg.main).toBe("dist/app/index.js");
    execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "pipe" });
    const meta = JSON.parse(readFileSync(join(root, "dist/app/meta.json"), "utf8")) as { inputs: object };
    const inputs = Object.keys(meta.inputs);
    expect(inputs.filter((p) => /^(test|sandbox|cli|bench)\//.test(p))).toEqual([]);
    expect(inputs).toContain("functions/index.ts");

    // A stand-in for the Node worker's @azure/functions-core: it records the registrations.
    const dir = mkdtempSync(join(tmpdir(), "rollover-bundle-"));
    dirs.push(dir);
    const core = join(dir, "node_modules/@azure/functions-core");
    mkdirSync(core, { recursive: true });
    writeFileSync(
      join(core, "index.js"),
      "const out = [];\nprocess.on('exit', () => process.stdout.write(JSON.stringify(out)));\n" +
        "module.exports = { registerFunction(m) { out.push(m); return { dispose() {} }; }, setProgrammingModel() {}, registerHook() { return { dispose() {} }; }, log() {} };\n",
    );
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", main: "index.js" }));
    copyFileSync(join(root, "dist/app/index.js"), join(dir, "index.js"));
    const out = execFileSync(process.execPath, ["-e", "await import('./index.js')", "--input-type=module"], {
      cwd: dir,
      env: { PATH: process.env.PATH, ROLLOVER_RECONCILE_SCHEDULE: "0 30 */4 * * *" },
      encoding: "utf8",
    });
    const registered = JSON.parse(out) as Array<{ name: string; bindings: Record<string, Binding> }>;
    const triggers = Object.fromEntries(
      registered.map((r) => [
        r.name,
        Object.values(r.bindings).find((b) => b.direction === "in" && /Trigger$/.test(b.type)),
      ]),
    );
    expect(Object.keys(triggers).sort()).toEqual([
      "flushAudit",
      "keyVaultEvents",
      "reconcile",
      "remediateAlert",
      "sweepPage",
    ]);
    expect(triggers.keyVaultEvents).toMatchObject({ type: "eventGridTrigger" });
    expect(triggers.reconcile).toMatchObject({ type: "timerTrigger", schedule: "0 30 */4 * * *" });
    expect(triggers.flushAudit).toMatchObject({ type: "timerTrigger", schedule: "0 */5 * * * *" });
    expect(triggers.sweepPage).toMatchObject({
      type: "queueTrigger",
      queueName: "rollover-sweep",
      connection: "AzureWebJobsStorage",
    });
    expect(triggers.remediateAlert).toMatchObject({
      type: "httpTrigger",
      route: "alerts",
      authLevel: "function",
      methods: ["POST"],
    });
  });

  it("has a host.json for the v4 extension bundle with the queue settings serve follows", () => {
    const host = JSON.parse(readFileSync(join(root, "host.json"), "utf8")) as {
      version: string;
      extensionBundle: { id: string; version: string };
      extensions: { queues: Record<string, unknown> };
    };
    expect(host.version).toBe("2.0");
    expect(host.extensionBundle).toEqual({
      id: "Microsoft.Azure.Functions.ExtensionBundle",
      version: "[4.*, 5.0.0)",
    });
    expect(host.extensions.queues).toMatchObject({ maxDequeueCount: 5, messageEncoding: "base64" });
  });
});
