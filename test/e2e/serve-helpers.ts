/**
 * `rollover serve` against a running sandbox (and its Azurite), for end-to-end tests: the app's
 * function definitions behind the Functions host's routes, Rollover's managed identity from the
 * sandbox, and the handlers reading the sandbox's virtual clock.
 */
import { afterAll, beforeAll } from "vitest";
import { type ServeHandle, startServe } from "../../cli/serve.js";
import type { SandboxHandle } from "../../sandbox/index.js";
import { useSandboxIdentity } from "../helpers/engine.js";

export function useServe(
  sb: () => SandboxHandle,
  opts: { settings?: Record<string, string>; log?: (line: string) => void } = {},
): () => ServeHandle {
  let handle: ServeHandle | undefined;
  beforeAll(async () => {
    const h = sb();
    useSandboxIdentity(h);
    handle = await startServe({
      env: { ...h.env, ...(opts.settings ?? {}) },
      now: () => h.ctx.clock.now(),
      log: opts.log ?? (() => {}),
      timers: false,
    });
  });
  afterAll(async () => {
    await handle?.idle(30_000).catch(() => undefined);
    await handle?.close();
  });
  return () => {
    if (!handle) throw new Error("serve not started yet");
    return handle;
  };
}

export function webhookUrl(s: ServeHandle, functionName = "keyVaultEvents"): string {
  return `${s.url}/runtime/webhooks/eventgrid?functionName=${functionName}&code=${encodeURIComponent(s.functionKey)}`;
}

export async function until<T>(
  f: () => T | Promise<T>,
  what: string,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Keys (by thumbprint, upper-case hex) of a directory object. */
export function thumbprintsOf(h: SandboxHandle, objectId: string, tenantId = h.urls.tenantId): string[] {
  const o = h.ctx.directory.get(tenantId, objectId);
  return (o?.keyCredentials ?? []).map((k) => Buffer.from(k.customKeyIdentifier, "base64").toString("hex").toUpperCase());
}
