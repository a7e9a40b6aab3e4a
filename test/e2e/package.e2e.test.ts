/**
 * The package as a library: `npm pack` (which builds dist/ through `prepare`), the tarball
 * unpacked into a fresh project's node_modules the way `npm install <tgz>` lays it out, with only
 * the package's declared dependencies beside it (linked from this checkout, so the test needs no
 * registry), then every entry of `exports` imported by name and the `rollover` bin run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  exports: Record<string, string | { import: string; types?: string }>;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
};

let dir: string;
let project: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "rollover-pack-"));
  const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tgz = join(dir, out.trim().split("\n").pop() as string);
  project = join(dir, "project");
  const installed = join(project, "node_modules", pkg.name);
  mkdirSync(installed, { recursive: true });
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", type: "module", private: true }),
  );
  execFileSync("tar", ["-xzf", tgz, "-C", installed, "--strip-components=1"]);
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = join(project, "node_modules", dep);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", dep), link, "dir");
  }
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function importIn(specifier: string): { code: number | null; names: string[]; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m).sort()));`,
    ],
    { cwd: project, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } },
  );
  return {
    code: r.status,
    names: r.status === 0 ? (JSON.parse(r.stdout) as string[]) : [],
    stderr: r.stderr,
  };
}

describe("the packed package", () => {
  it("every exports target is in the tarball", () => {
    const files = new Set(
      readdirSync(join(project, "node_modules", pkg.name), { recursive: true }).map((f) => String(f)),
    );
    for (const [entry, target] of Object.entries(pkg.exports)) {
      const paths =
        typeof target === "string" ? [target] : [target.import, ...(target.types ? [target.types] : [])];
      for (const p of paths) expect(files.has(p.replace(/^\.\//, "")), `${entry} → ${p}`).toBe(true);
    }
  });

  const expected: Record<string, string[]> = {
    ".": [
      "planTenant",
      "parseSnapshot",
      "loadConfig",
      "buildRollover",
      "reasonRegistry",
      "verifyAudit",
      "statusOf",
    ],
    "./identity": ["EntraAgentId", "EntraAgentIdError"],
    "./sandbox": ["startSandbox"],
  };

  for (const entry of Object.keys(pkg.exports).filter((e) => e !== "./package.json")) {
    it(`import "${entry === "." ? pkg.name : `${pkg.name}/${entry.slice(2)}`}" works in a fresh project`, () => {
      const r = importIn(entry === "." ? pkg.name : `${pkg.name}/${entry.slice(2)}`);
      expect(r.code, r.stderr).toBe(0);
      for (const name of expected[entry] ?? []) expect(r.names).toContain(name);
    });
  }

  it("the rollover bin runs from the installed package", () => {
    const bin = join(project, "node_modules", pkg.name, pkg.bin.rollover as string);
    const r = spawnSync(process.execPath, [bin, "--help"], { cwd: project, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/status/);
  });
});
