/**
 * What the sweep's fault matrix and its child process share: the tenant, the settings, the write
 * hook on every Graph client the sweep makes (Rollover's own and each target's), and a driver for
 * the Functions path — a fanned-out run whose queue messages are worked on as the queue trigger
 * would, several pages at once (a page enqueues the next before it plans, so consecutive pages and
 * both collections overlap).
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@microsoft/microsoft-graph-client";
import type { SandboxHandle } from "../../sandbox/index.js";
import type { GraphEdge } from "../../shared/azure/graph.js";
import { decodeMessage } from "../../shared/azure/queue.js";
import {
  type FanoutStorage,
  isRunComplete,
  readSweepRun,
  runSweepPage,
  type SweepPageMessage,
  startSweepRun,
  sweepPageMessage,
} from "../../shared/sweep/fanout.js";
import type { SweepDeps } from "../../shared/sweep/run.js";
import { hookWrites, type WriteBoundary } from "./graph-hook.js";

export const DAY = 86_400_000;
export const CAP = 6;
export const PAGE = 5;
export const SETTINGS = {
  ROLLOVER_SWEEP_MODE: "remove",
  ROLLOVER_MAX_REMOVALS_PER_RUN: String(CAP),
  ROLLOVER_MANAGED_MODE: "true",
  ROLLOVER_GRACE_HOURS: "1",
  ROLLOVER_MAX_REMOVALS_PER_HOUR: "1000",
  ROLLOVER_MAX_REMOVALS_PER_DAY: "1000",
};

/** Hooks every Graph write of a sweep: on Rollover's client and on every client made as a target. */
export function hookSweepWrites(
  deps: SweepDeps,
  hook: (b: WriteBoundary, path: string) => void | Promise<void>,
): void {
  deps.client = hookWrites(deps.client, hook);
  const graph = deps.graph;
  deps.graph = new Proxy(graph, {
    get(target, prop, receiver) {
      if (prop === "client")
        return (c: Parameters<GraphEdge["client"]>[0]): Client => hookWrites(graph.client(c), hook);
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Every run reads the plain lists in pages of PAGE, as a full sweep does. */
export async function forceFullLists(st: FanoutStorage): Promise<void> {
  for (const c of ["applications", "servicePrincipals"] as const) {
    await st.delta.setLink(c, "https://graph.invalid/forced-full");
    await st.delta.markFull(c, 0);
  }
}

/**
 * One fanned-out run, start to finish: the run record and first pages, then every message as the
 * queue trigger would take it, each page started as soon as its message is there. A page that
 * throws is delivered again (as the queue does), at most `maxDeliveries` times.
 */
export async function drainRun(
  st: FanoutStorage,
  depsFor: () => SweepDeps,
  opts: { now: number; maxDeliveries?: number },
): Promise<{ runId: string; removed: number; pagesThrew: number; concurrentMax: number }> {
  const runId = `fault-${randomUUID()}`;
  await forceFullLists(st);
  await startSweepRun(st, { runId, maxRemovals: CAP, now: opts.now, dryRun: false, pageSize: PAGE });
  const deliveries = new Map<string, number>();
  const inflight = new Set<Promise<void>>();
  let pagesThrew = 0;
  let concurrentMax = 0;
  const start = (m: SweepPageMessage) => {
    const key = `${m.collection}-${m.page}`;
    const n = (deliveries.get(key) ?? 0) + 1;
    deliveries.set(key, n);
    const p: Promise<void> = runSweepPage(st, depsFor(), m)
      .then(() => undefined)
      .catch(() => {
        pagesThrew += 1;
        if (n < (opts.maxDeliveries ?? 6)) start(m);
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    concurrentMax = Math.max(concurrentMax, inflight.size);
  };
  for (let spins = 0; spins < 10_000; spins++) {
    const got = await st.queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 600 });
    for (const q of got.receivedMessageItems) {
      await st.queue.deleteMessage(q.messageId, q.popReceipt);
      const m = sweepPageMessage.parse(decodeMessage(q.messageText));
      if (m.runId === runId) start(m);
    }
    if (got.receivedMessageItems.length > 0) continue;
    if (inflight.size === 0) break;
    await Promise.race([...inflight, new Promise((r) => setTimeout(r, 25))]);
  }
  const run = await readSweepRun(st, runId);
  return {
    runId,
    removed: run?.removed ?? 0,
    pagesThrew,
    concurrentMax,
    ...(run && !isRunComplete(run) ? { incomplete: true } : {}),
  };
}

/**
 * The tenant: 8 applications and 4 service principals Rollover owns, each with a valid and an
 * expired client secret (managed mode removes those), and 3 bound applications, each with a
 * valid key of its Key Vault certificate and an expired key (removeKey as the target, its proof
 * signed in Key Vault). Rollover holds Application.Read.All and Application.ReadWrite.OwnedBy.
 * Ids are in list order, so every page of applications holds a bound one.
 */
export async function seedSweepTenant(h: SandboxHandle): Promise<string[]> {
  const res = await fetch(`${h.urls.controlUrl}/seed`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ seed: "empty" }),
  });
  if (!res.ok) throw new Error(`reseed failed: ${res.status}`);
  const t = h.urls.tenantId;
  const dir = h.ctx.directory;
  const mi = h.ctx.managedIdentity.objectId;
  dir.grantAppRole(t, mi, "Application.ReadWrite.OwnedBy");
  const now = h.ctx.clock.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const ids: string[] = [];
  for (let i = 1; i <= 15; i++) {
    const n = String(i).padStart(2, "0");
    const app = dir.createApplication(t, {
      displayName: `swept-${n}`,
      id: `a1300000-0000-4000-8000-0000000000${n}`,
      appId: `b1300000-0000-4000-8000-0000000000${n}`,
    });
    if (i % 5 === 3) {
      const name = `swept-bound-${n}`;
      const v1 = await h.ctx.vault.createCertificate(name, {
        tags: { "rollover-target": app.id },
        notBefore: Math.floor((now - 30 * DAY) / 1000),
        expires: Math.floor((now + 300 * DAY) / 1000),
      });
      dir.addKeyCredential(t, app.id, { certificateDer: v1.cerDer });
      const old = await h.ctx.vault.createCertificate(`${name}-old`, {
        notBefore: Math.floor((now - 400 * DAY) / 1000),
        expires: Math.floor((now - 60 * DAY) / 1000),
      });
      dir.addKeyCredential(t, app.id, { certificateDer: old.cerDer, displayName: "old" });
      ids.push(app.id);
      continue;
    }
    const holder = i % 3 === 0 ? dir.findByAppId(t, app.appId, "servicePrincipal")! : app;
    dir.addOwner(t, holder.id, mi);
    dir.addPasswordCredential(t, holder.id, { endDateTime: iso(now + 300 * DAY) });
    dir.addPasswordCredential(t, holder.id, {
      startDateTime: iso(now - 400 * DAY),
      endDateTime: iso(now - 30 * DAY),
    });
    ids.push(holder.id);
  }
  return ids;
}

/** Credentials left on the swept objects: expired, valid, and objects with no valid one. */
export function credentials(h: SandboxHandle, ids: readonly string[]) {
  const now = h.ctx.clock.now();
  const objs = ids.map((id) => h.ctx.directory.get(h.urls.tenantId, id)!);
  const all = objs.flatMap((o) => [...o.passwordCredentials, ...o.keyCredentials]);
  return {
    expired: all.filter((c) => Date.parse(c.endDateTime) <= now).length,
    valid: all.filter((c) => Date.parse(c.endDateTime) > now).length,
    targetsWithoutValid: objs.filter(
      (o) => ![...o.passwordCredentials, ...o.keyCredentials].some((c) => Date.parse(c.endDateTime) > now),
    ).length,
  };
}
