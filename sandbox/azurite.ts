/**
 * Starts Azurite (Microsoft's Azure Storage emulator, from npm) in memory with telemetry off, on
 * free ports, and hands back its connection string. Rollover keeps its state records, leases,
 * queue messages and spooled audit records there.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface AzuriteHandle {
  connectionString: string;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  close(): Promise<void>;
}

/** The well-known development account key Azurite accepts (published in Azurite's README). */
const DEV_ACCOUNT = "devstoreaccount1";
const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

function azuriteEntry(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve("azurite/package.json")), "dist", "src", "azurite.js");
  } catch {
    throw new Error(
      "Azurite is not installed: run `npm ci` in the Rollover repository (it is a dev dependency).",
    );
  }
}

export async function startAzurite(
  opts: { log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<AzuriteHandle> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      azuriteEntry(),
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--silent",
      "--skipApiVersionCheck",
      "--blobPort",
      "0",
      "--queuePort",
      "0",
      "--tablePort",
      "0",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const ports: Record<string, number> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("Azurite did not start within the time limit"));
    }, opts.timeoutMs ?? 30_000);
    let buffered = "";
    child.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString();
      for (const m of buffered.matchAll(
        /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/127\.0\.0\.1:(\d+)/g,
      )) {
        ports[m[1]!.toLowerCase()] = Number(m[2]);
      }
      if (ports.blob && ports.queue && ports.table) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on("data", (d: Buffer) => opts.log?.(`azurite: ${d.toString().trim()}`));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited early with code ${code}`));
    });
  });
  child.removeAllListeners("exit");
  const host = "http://127.0.0.1";
  const connectionString = [
    "DefaultEndpointsProtocol=http",
    `AccountName=${DEV_ACCOUNT}`,
    `AccountKey=${DEV_KEY}`,
    `BlobEndpoint=${host}:${ports.blob}/${DEV_ACCOUNT}`,
    `QueueEndpoint=${host}:${ports.queue}/${DEV_ACCOUNT}`,
    `TableEndpoint=${host}:${ports.table}/${DEV_ACCOUNT}`,
  ].join(";");
  return {
    connectionString,
    blobPort: ports.blob!,
    queuePort: ports.queue!,
    tablePort: ports.table!,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      }),
  };
}
