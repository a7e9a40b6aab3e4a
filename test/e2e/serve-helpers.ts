/**
 * `rollover serve` against a running sandbox (and its Azurite), for end-to-end tests: the app's
 * function definitions behind the Functions host's routes, Rollover's managed identity from the
 * sandbox, and the handlers reading the sandbox's virtual clock.
 */
import { createHash, randomUUID } from "node:crypto";
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

/** Keys (by thumbprint, upper-case hex, from the certificate itself) of a directory object. */
export function thumbprintsOf(h: SandboxHandle, objectId: string, tenantId = h.urls.tenantId): string[] {
  const o = h.ctx.directory.get(tenantId, objectId);
  return (o?.keyCredentials ?? []).map((k) => createHash("sha1").update(k.key).digest("hex").toUpperCase());
}

/** A Key Vault certificate event (Event Grid schema) for a version, as the sandbox's Event Grid publishes it. */
export function certificateEvent(
  h: SandboxHandle,
  eventType: string,
  certificate: string,
  opts: { id?: string; topic?: string; version?: string } = {},
): Record<string, unknown> {
  const info = opts.version
    ? h.ctx.vault.versions(certificate).find((v) => v.version === opts.version)!
    : h.ctx.vault.latest(certificate)!;
  return {
    id: opts.id ?? randomUUID(),
    topic: opts.topic ?? h.urls.vaultResourceId,
    subject: certificate,
    eventType,
    eventTime: new Date(h.ctx.clock.now()).toISOString(),
    data: {
      Id: info.id,
      VaultName: h.urls.vaultName,
      ObjectType: "Certificate",
      ObjectName: certificate,
      Version: info.version,
      NBF: info.notBefore,
      EXP: info.expires,
    },
    dataVersion: "1",
    metadataVersion: "1",
  };
}

/**
 * Delivers one event as Event Grid does: again after any failure, until it is accepted. A 500
 * (say another delivery's run holds the binding's lease) is retried for as long as that run may
 * take on a slow machine: the cap is real time (60 s), not a count of attempts that a busy
 * machine would use up sooner. `attempts` limits the tries (1: exactly one).
 */
export async function deliver(
  s: ServeHandle,
  event: unknown,
  attempts = Number.POSITIVE_INFINITY,
  timeoutMs = 60_000,
): Promise<number> {
  const end = Date.now() + timeoutMs;
  let i = 1;
  for (; i <= attempts && (i === 1 || Date.now() <= end); i++) {
    const res = await fetch(webhookUrl(s), {
      method: "POST",
      headers: { "Content-Type": "application/json", "aeg-event-type": "Notification" },
      body: JSON.stringify([event]),
    });
    await res.arrayBuffer();
    if (res.status >= 200 && res.status <= 204) return i;
    if (res.status !== 500) throw new Error(`delivery answered ${res.status}`);
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
  }
  throw new Error(`event not accepted after ${i - 1} attempt(s)`);
}

/** Audit records the sandbox's Logs Ingestion received. */
export function auditRecords(h: SandboxHandle): Array<Record<string, unknown>> {
  return h.ctx.logs.records().map((r) => r.record as Record<string, unknown>);
}

/** A seeded Fisher-Yates shuffle. */
export function shuffled<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** An Azure Monitor alert in the common alert schema (a log search alert) with custom properties. */
export function commonAlert(customProperties: Record<string, string>, monitorCondition = "Fired") {
  return {
    schemaId: "azureMonitorCommonAlertSchema",
    data: {
      essentials: {
        alertId:
          "/subscriptions/00000000-0000-4000-8000-000000000001/providers/Microsoft.AlertsManagement/alerts/1b2c3d4e",
        alertRule: "Rollover: rotation step failed",
        severity: "Sev2",
        signalType: "Log",
        monitorCondition,
        monitoringService: "Log Alerts V2",
        alertTargetIDs: [
          "/subscriptions/00000000-0000-4000-8000-000000000001/resourcegroups/rg/providers/microsoft.operationalinsights/workspaces/law",
        ],
        configurationItems: [],
        originAlertId: "4d5e6f",
        firedDateTime: "2026-11-27T10:00:00.000Z",
        description: "",
        essentialsVersion: "1.0",
        alertContextVersion: "1.0",
      },
      alertContext: {},
      customProperties,
    },
  };
}
