/**
 * Lowkey Vault (github.com/nagyesta/lowkey-vault), an independent Key Vault emulator, started as
 * a child process on free ports. It serves HTTPS with its own self-signed certificate (SAN
 * 127.0.0.1), answers a body-less request without `Authorization` with 401 and a `Bearer`
 * challenge naming its own base URI as the resource, and accepts any bearer token after that.
 *
 * The app jar is looked up, in order: LOWKEY_VAULT_JAR, ../shared/tools/lowkey-vault/lowkey-vault-app.jar
 * beside the project root (built from Lowkey Vault's source; see the README there),
 * .cache/lowkey/lowkey-vault-app*.jar (fetch.sh --from-source), ~/.cache/rollover-lowkey/.
 * Java: LOWKEY_JAVA, else the newest JDK under /usr/lib/jvm, else `java` on PATH; the jar needs 25.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { connect } from "node:tls";

/** The jar at ../shared/tools/lowkey-vault/ is built for Java 25 (see the README there). */
export const LOWKEY_JAVA_MAJOR = 25;

export interface LowkeyHandle {
  /** `https://127.0.0.1:{port}`: one of the vaults Lowkey Vault registers by default. */
  vaultUrl: string;
  port: number;
  tokenPort: number;
  /** Its TLS certificate, PEM. */
  certPem: string;
  jar: string;
  java: string;
  startMs: number;
  close(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, "../../..");

/** Where the jar sits beside a checkout: `../shared/tools/lowkey-vault/` (see the README there). */
export const SHARED_JAR = join("..", "shared", "tools", "lowkey-vault", "lowkey-vault-app.jar");

/**
 * The project roots the shared jar is looked up from: this checkout and, for a git worktree, the
 * main checkout it belongs to (CI runs from a fresh clone, with `shared/` as its sibling).
 */
function projectRoots(): string[] {
  const roots = [ROOT];
  const r = spawnSync("git", ["rev-parse", "--path-format=absolute", "--git-common-dir"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const common = r.status === 0 ? r.stdout.trim() : "";
  if (common && basename(common) === ".git") roots.push(dirname(common));
  return [...new Set(roots)];
}

/** The shared jar, when one of the project roots has it beside it. */
export function findSharedJar(): string | undefined {
  return projectRoots()
    .map((root) => resolve(root, SHARED_JAR))
    .find((p) => existsSync(p));
}

export function findJar(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.LOWKEY_VAULT_JAR) return existsSync(env.LOWKEY_VAULT_JAR) ? env.LOWKEY_VAULT_JAR : undefined;
  const shared = findSharedJar();
  if (shared) return shared;
  const cache = join(ROOT, ".cache", "lowkey");
  if (existsSync(cache)) {
    const jar = readdirSync(cache)
      .filter((f) => /^lowkey-vault-app.*\.jar$/.test(f))
      .sort()
      .at(-1);
    if (jar) return join(cache, jar);
  }
  const home = join(homedir(), ".cache", "rollover-lowkey", "lowkey-vault-app.jar");
  return existsSync(home) ? home : undefined;
}

function javaMajor(java: string): number | undefined {
  const r = spawnSync(java, ["-version"], { encoding: "utf8" });
  if (r.error) return undefined;
  return parseMajor(`${r.stderr}${r.stdout}`);
}

function parseMajor(text: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
}

/** The Java to run Lowkey Vault with, and its major version; undefined when there is none. */
export function findJava(env: NodeJS.ProcessEnv = process.env): { java: string; major: number } | undefined {
  const candidates: string[] = [];
  if (env.LOWKEY_JAVA) candidates.push(env.LOWKEY_JAVA);
  if (existsSync("/usr/lib/jvm")) {
    for (const d of readdirSync("/usr/lib/jvm")) {
      const j = join("/usr/lib/jvm", d, "bin", "java");
      if (existsSync(j)) candidates.push(j);
    }
  }
  if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, "bin", "java"));
  candidates.push("java");
  let best: { java: string; major: number } | undefined;
  for (const java of candidates) {
    const major = javaMajor(java);
    if (major === undefined) continue;
    if (env.LOWKEY_JAVA && java === env.LOWKEY_JAVA) return { java, major };
    if (!best || major > best.major) best = { java, major };
  }
  return best;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** The server's certificate as PEM (read without verifying: it is what we are about to trust). */
export function fetchCertificate(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      const b64 = raw.toString("base64").replace(/(.{64})/g, "$1\n");
      res(`-----BEGIN CERTIFICATE-----\n${b64.trim()}\n-----END CERTIFICATE-----\n`);
    });
    socket.once("error", rej);
  });
}

export async function startLowkey(
  opts: { jar: string; java: string; log?: (line: string) => void; timeoutMs?: number } = {
    jar: "",
    java: "java",
  },
): Promise<LowkeyHandle> {
  const started = Date.now();
  const port = await freePort();
  const tokenPort = await freePort();
  const child: ChildProcess = spawn(
    opts.java,
    [
      "-Xmx256m",
      "-jar",
      opts.jar,
      `--server.port=${port}`,
      `--app.token.port=${tokenPort}`,
      "--logging.level.root=WARN",
      "--logging.level.com.github.nagyesta=WARN",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const keep = (c: Buffer) => {
    output = (output + c.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  let certPem: string | undefined;
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    try {
      certPem = await fetchCertificate(port);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  if (!certPem) {
    child.kill("SIGKILL");
    throw new Error(
      `Lowkey Vault did not start (exit ${String(exited)}): ${output.split("\n").slice(-15).join("\n")}`,
    );
  }
  opts.log?.(`Lowkey Vault on https://127.0.0.1:${port} after ${Date.now() - started} ms`);
  return {
    vaultUrl: `https://127.0.0.1:${port}`,
    port,
    tokenPort,
    certPem,
    jar: opts.jar,
    java: opts.java,
    startMs: Date.now() - started,
    close: () =>
      new Promise<void>((res) => {
        if (exited !== undefined) return res();
        child.once("exit", () => res());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}
