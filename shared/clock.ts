/**
 * Where a Rollover process reads the time: the system clock, or, against the local sandbox
 * (ROLLOVER_SANDBOX_CONTROL_URL set), the sandbox's virtual clock, so that after
 * `POST /_sandbox/clock/advance` Rollover and Key Vault agree on what has expired.
 *
 * `now()` is synchronous (the engine, the sweep and the audit writer call it often); `sync()`
 * reads the sandbox's clock and is called when a process starts and before each run. A real
 * deployment never uses the sandbox's clock: the setting is refused next to real Azure endpoints.
 */
import type { Config } from "./config.js";
import { ConfigError } from "./config.js";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Reads the time source again (no-op for the system clock). */
  sync(): Promise<void>;
  readonly source: "system" | "sandbox";
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sync: async () => {},
  source: "system",
};

/** The sandbox's virtual clock, read from `GET {controlUrl}/clock` (docs/sandbox.md). */
export class SandboxClock implements Clock {
  readonly source = "sandbox";
  private offsetMs = 0;
  private synced = false;

  constructor(
    private readonly controlUrl: string,
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly system: () => number = Date.now,
  ) {}

  now = (): number => {
    if (!this.synced)
      throw new Error("the sandbox clock was not read yet: call sync() before the run (a Rollover defect)");
    return this.system() + this.offsetMs;
  };

  /** Reads the sandbox's clock; a refused or failed read is tried twice more (100 ms, 300 ms apart). */
  async sync(): Promise<void> {
    let last: Error | undefined;
    for (const pause of [0, 100, 300]) {
      if (pause) await new Promise((r) => setTimeout(r, pause));
      try {
        return await this.read();
      } catch (e) {
        last = e as Error;
        if ((e as { final?: boolean }).final) break;
      }
    }
    throw last as Error;
  }

  private async read(): Promise<void> {
    const url = `${this.controlUrl.replace(/\/+$/, "")}/clock`;
    const before = this.system();
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers: { Accept: "application/json" } });
    } catch (e) {
      throw new Error(
        `cannot read the sandbox clock at ${url} (ROLLOVER_SANDBOX_CONTROL_URL): ${(e as Error).message}`,
      );
    }
    const after = this.system();
    const body = (await res.json().catch(() => undefined)) as { epochMs?: unknown } | undefined;
    const epochMs = body?.epochMs;
    if (!res.ok || typeof epochMs !== "number" || !Number.isFinite(epochMs)) {
      const err = new Error(
        `cannot read the sandbox clock at ${url} (ROLLOVER_SANDBOX_CONTROL_URL): HTTP ${res.status}, expected {"epochMs": number}`,
      );
      // Only a throttled or failing server may answer better on a second try.
      if (res.ok || (res.status < 500 && res.status !== 429)) Object.assign(err, { final: true });
      throw err;
    }
    // The sandbox read its clock somewhere between `before` and `after`.
    this.offsetMs = epochMs - Math.round((before + after) / 2);
    this.synced = true;
  }
}

/** Hosts of the real services: a sandbox clock next to any of them is a misconfiguration. */
const REAL_AZURE_HOST =
  /(^|\.)(vault\.azure\.net|vault\.azure\.cn|vault\.usgovcloudapi\.net|vault\.microsoftazure\.de|managedhsm\.azure\.net|graph\.microsoft\.com|graph\.microsoft\.us|microsoftgraph\.chinacloudapi\.cn|login\.microsoftonline\.com|login\.microsoftonline\.us|login\.chinacloudapi\.cn)$/i;

const clocks = new Map<string, SandboxClock>();

/**
 * The clock for these settings: the sandbox's when ROLLOVER_SANDBOX_CONTROL_URL is set (one per
 * control URL and process), else the system's. Refuses the sandbox clock when the other settings
 * point at real Azure (a deployment must never take its time from a sandbox).
 */
export function clockFor(
  config: Pick<Config, "sandboxControlUrl" | "vaultUrls" | "graphBaseUrl" | "authorityHost">,
): Clock {
  const control = config.sandboxControlUrl;
  if (!control) return systemClock;
  const real = [...(config.vaultUrls ?? []), config.graphBaseUrl, config.authorityHost].filter(
    (u): u is string => typeof u === "string" && REAL_AZURE_HOST.test(hostOf(u)),
  );
  if (real.length > 0)
    throw new ConfigError([
      {
        env: "ROLLOVER_SANDBOX_CONTROL_URL",
        message: `is for the local sandbox only, but the settings point at Azure (${real.join(", ")}): unset it`,
      },
    ]);
  let c = clocks.get(control);
  if (!c) {
    c = new SandboxClock(control);
    clocks.set(control, c);
  }
  return c;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "";
  }
}
