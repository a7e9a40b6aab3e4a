/**
 * The deployment package, built and zipped as `azd deploy` would and run on its own: `npm run
 * build` writes the folder azure.yaml `dist` names; the zip holds what azd puts in it (that
 * folder, minus what its .funcignore names); extracted into an empty directory outside the
 * repository (no node_modules to fall back on, nothing installed), the bundle loads the way
 * the Functions Node worker loads it (package.json `main`, with the worker's
 * `@azure/functions-core` providing registerFunction) and registers the five functions of the
 * definition table with their triggers. host.json matches what serve follows.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { azdRemoteBuild, azdZipEntries, unzipTo, zip } from "../helpers/azd-zip.js";

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

/** `services.rollover.<key>` of azure.yaml (a flat scalar; the file has no anchors or flow maps). */
function serviceSetting(yaml: string, key: string): string | undefined {
  const service = /^ {2}rollover:\n((?: {4}.*\n|\s*\n)+)/m.exec(yaml)?.[1] ?? "";
  return new RegExp(`^ {4}${key}: *(\\S+)`, "m").exec(service)?.[1];
}

describe("the deployment package", () => {
  it("is the dist folder zipped as azd would, and on its own registers every function with its trigger", {
    timeout: 120_000,
  }, () => {
    const yaml = readFileSync(join(root, "azure.yaml"), "utf8");
    const dist = serviceSetting(yaml, "dist");
    expect(dist).toBe("dist/app");
    expect(serviceSetting(yaml, "project")).toBe(".");
    // Remote build off, and azd accepts that with the project's .funcignore (if any).
    const remoteBuild = serviceSetting(yaml, "remoteBuild");
    expect(remoteBuild).toBe("false");
    const projectIgnore = existsSync(join(root, ".funcignore"))
      ? readFileSync(join(root, ".funcignore"), "utf8")
      : undefined;
    expect(azdRemoteBuild(projectIgnore, false)).toBe(false);

    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { main: string };
    expect(pkg.main).toBe(`${dist}/index.js`);
    execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "pipe" });
    const folder = join(root, dist as string);
    const meta = JSON.parse(readFileSync(join(folder, "meta.json"), "utf8")) as {
      inputs: object;
      outputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
    };
    const inputs = Object.keys(meta.inputs);
    expect(inputs.filter((p) => /^(test|sandbox|cli|bench|infra)\//.test(p))).toEqual([]);
    expect(inputs).toContain("functions/index.ts");
    // Whatever the bundle loads from outside, now or later (a lazy require), is Node's own or
    // the worker's: no npm package is left for Azure to install.
    const external = new Set(
      (meta.outputs[`${dist}/index.js`]?.imports ?? []).filter((i) => i.external).map((i) => i.path),
    );
    expect(external.has("@azure/functions-core")).toBe(true);
    expect(
      [...external].filter(
        (m) => m !== "@azure/functions-core" && !builtinModules.includes(m.replace(/^node:/, "")),
      ),
    ).toEqual([]);

    // What azd uploads.
    const entries = azdZipEntries(folder);
    expect([...entries].sort()).toEqual(
      ["host.json", "index.js", "index.js.LEGAL.txt", "index.js.map", "package.json"].sort(),
    );
    const deployed = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(deployed).toMatchObject({ type: "module", main: "index.js" });
    // Nothing to install and nothing to run: remote build is off, and the bundle holds every package.
    expect(deployed.scripts).toBeUndefined();
    expect(deployed.dependencies).toBeUndefined();
    expect(deployed.devDependencies).toBeUndefined();
    expect(JSON.parse(readFileSync(join(folder, "host.json"), "utf8"))).toEqual(
      JSON.parse(readFileSync(join(root, "host.json"), "utf8")),
    );

    // An empty directory outside the repository: Node's module resolution cannot reach the
    // repository's node_modules from there.
    const site = mkdtempSync(join(tmpdir(), "rollover-site-"));
    dirs.push(site);
    expect(relative(root, site).startsWith("..")).toBe(true);
    const names = unzipTo(zip(folder, entries), site);
    expect(names.sort()).toEqual([...entries].sort());

    // A stand-in for the Node worker's @azure/functions-core, outside the site (the worker
    // provides it; it is not in the package): it records the registrations.
    const worker = mkdtempSync(join(tmpdir(), "rollover-worker-"));
    dirs.push(worker);
    const core = join(worker, "node_modules/@azure/functions-core");
    mkdirSync(core, { recursive: true });
    writeFileSync(
      join(core, "index.js"),
      "const out = [];\nprocess.on('exit', () => process.stdout.write(JSON.stringify(out)));\n" +
        "module.exports = { registerFunction(m) { out.push(m); return { dispose() {} }; }, setProgrammingModel() {}, registerHook() { return { dispose() {} }; }, log() {} };\n",
    );
    const out = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        "const p = JSON.parse((await import('node:fs')).readFileSync('package.json', 'utf8')); await import('./' + p.main);",
      ],
      {
        cwd: site,
        env: {
          PATH: process.env.PATH,
          NODE_PATH: join(worker, "node_modules"),
          ROLLOVER_RECONCILE_SCHEDULE: "0 30 */4 * * *",
        },
        encoding: "utf8",
      },
    );
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

  it("leaves out what the folder's .funcignore names, as azd does", () => {
    const dir = mkdtempSync(join(tmpdir(), "rollover-ignore-"));
    dirs.push(dir);
    for (const f of [
      "a.js",
      "meta.json",
      "local.settings.json",
      ".funcignore",
      "sub/x.map",
      "sub/keep.js",
      "node_modules/m/i.js",
    ]) {
      mkdirSync(join(dir, f, ".."), { recursive: true });
      writeFileSync(join(dir, f), f);
    }
    writeFileSync(join(dir, ".funcignore"), "# comment\nmeta.json\n*.map\nnode_modules/\n!sub/keep.js\n");
    expect(azdZipEntries(dir).sort()).toEqual(["a.js", "sub/keep.js"]);
    // azd's remote-build rule for the project folder's ignore file.
    expect(azdRemoteBuild("node_modules/\n", undefined)).toBe(true);
    expect(azdRemoteBuild("dist/\n", undefined)).toBe(false);
    expect(() => azdRemoteBuild("node_modules/\n", false)).toThrow(/cannot be used/);
    expect(azdRemoteBuild(undefined, undefined)).toBe(true);
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
