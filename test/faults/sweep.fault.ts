/**
 * Fault matrix, sweep: the sweep's boundaries (between two pages, before a removal, after a
 * removal) crossed with every fault — a Graph 429 storm, Key Vault 503s, connection resets, Logs
 * Ingestion down (switched on at the boundary) and SIGKILL of the process there (a child process,
 * test/faults/sweep-child.ts). The tenant: 12 apps Rollover owns, each with a valid and an expired
 * secret, read 5 a page; the cap is 5 removals a run. After each case the sweep runs again until
 * nothing removable is left, and the invariants are checked:
 *
 * - converges on rerun: every expired secret removed, every valid one kept;
 * - removals never above the cap in any run;
 * - a valid credential on every target at every moment (sampled at each boundary);
 * - no audit record lost and none twice after dedupe (as in the rotation matrix).
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseFaultSpec } from "../../sandbox/faults.js";
import type { SandboxHandle } from "../../sandbox/index.js";
import { buildRollover, sweepDepsFor } from "../../shared/app.js";
import { runSweep } from "../../shared/sweep/run.js";
import { useSandboxIdentity } from "../helpers/engine.js";
import { useSandbox } from "../helpers/sandbox.js";
import { hookWrites } from "./graph-hook.js";
import {
  auditTrail,
  type CaseRow,
  countingWriter,
  FAULTS,
  type FaultName,
  printTable,
  storedRecords,
} from "./harness.js";

const DAY = 86_400_000;
const APPS = 12;
const CAP = 5;
const PAGE = 5;
const BOUNDARIES = ["between-pages", "before-removal", "after-removal"] as const;
type SweepBoundary = (typeof BOUNDARIES)[number];
const FAULT_NAMES: FaultName[] = [...(Object.keys(FAULTS) as FaultName[]), "SIGKILL"];
const CHILD = resolve(import.meta.dirname, "sweep-child.ts");
const SETTINGS = {
  ROLLOVER_SWEEP_MODE: "remove",
  ROLLOVER_MAX_REMOVALS_PER_RUN: String(CAP),
};

const rows: CaseRow[] = [];
const sb = useSandbox({ seed: "empty", azurite: true });
afterAll(() => printTable("Fault matrix: sweep", rows));

async function seedTenant(h: SandboxHandle): Promise<string[]> {
  const res = await fetch(`${h.urls.controlUrl}/seed`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ seed: "empty" }),
  });
  if (!res.ok) throw new Error(`reseed failed: ${res.status}`);
  const t = h.urls.tenantId;
  const dir = h.ctx.directory;
  const mi = h.ctx.managedIdentity.objectId;
  dir.grantAppRole(t, mi, "Application.Read.All");
  dir.grantAppRole(t, mi, "Application.ReadWrite.OwnedBy");
  const now = h.ctx.clock.now();
  const ids: string[] = [];
  for (let i = 0; i < APPS; i++) {
    const app = dir.createApplication(t, { displayName: `swept-${i}` });
    dir.addOwner(t, app.id, mi);
    dir.addPasswordCredential(t, app.id, { endDateTime: new Date(now + 300 * DAY).toISOString() });
    dir.addPasswordCredential(t, app.id, {
      startDateTime: new Date(now - 400 * DAY).toISOString(),
      endDateTime: new Date(now - 30 * DAY).toISOString(),
    });
    ids.push(app.id);
  }
  return ids;
}

function secrets(h: SandboxHandle, ids: string[]) {
  const now = h.ctx.clock.now();
  const all = ids.flatMap((id) => h.ctx.directory.get(h.urls.tenantId, id)!.passwordCredentials);
  return {
    expired: all.filter((p) => Date.parse(p.endDateTime) <= now).length,
    valid: all.filter((p) => Date.parse(p.endDateTime) > now).length,
    targetsWithoutValid: ids.filter(
      (id) =>
        !h.ctx.directory
          .get(h.urls.tenantId, id)!
          .passwordCredentials.some((p) => Date.parse(p.endDateTime) > now),
    ).length,
  };
}

function runChild(h: SandboxHandle, env: Record<string, string>): Promise<{ killed: boolean }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
      env: { ...process.env, ...h.env, ...SETTINGS, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString("utf8");
    });
    child.stdout.resume();
    child.once("error", rej);
    child.once("exit", (code, signal) => {
      if (signal !== "SIGKILL" && code !== 0) rej(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      else res({ killed: signal === "SIGKILL" });
    });
  });
}

async function runCase(index: number, boundary: SweepBoundary, fault: FaultName): Promise<CaseRow> {
  const h = sb();
  const ids = await seedTenant(h);
  useSandboxIdentity(h);
  const trail = auditTrail(h);
  const writerName = `sweep-fault-${index}`;
  const { writer, emitted } = countingWriter(trail, writerName, h.ctx.managedIdentity.objectId);
  const r = buildRollover({ ...h.env, ...SETTINGS });
  let gaps = 0;
  let injected = false;
  const perRun: number[] = [];
  const sample = () => {
    if (secrets(h, ids).targetsWithoutValid > 0) gaps += 1;
  };
  const at = (b: SweepBoundary) => {
    sample();
    if (!injected && fault !== "SIGKILL" && b === boundary) {
      h.ctx.faults.set(parseFaultSpec(FAULTS[fault]), 2000 + index);
      injected = true;
    }
  };
  let runs = 0;
  let result = "";
  for (; runs < 8; ) {
    runs += 1;
    const before = secrets(h, ids).expired;
    if (fault === "SIGKILL" && !injected) {
      const child = await runChild(h, {
        FAULT_BOUNDARY: boundary,
        FAULT_WRITER: `${writerName}-child`,
        FAULT_PAGE_SIZE: String(PAGE),
        FAULT_CLOCK_OFFSET_MS: String(h.ctx.clock.offset),
      });
      injected = child.killed;
      result = child.killed ? "killed" : "done";
      sample();
    } else {
      let pages = 0;
      let writes = 0;
      const deps = sweepDepsFor(r, {
        audit: writer,
        now: () => h.ctx.clock.now(),
        dryRun: false,
        onPage: () => {
          pages += 1;
          if (pages === 2) at("between-pages");
        },
      });
      deps.pageSize = PAGE;
      deps.client = hookWrites(deps.client, (b) => {
        if (b === "before-removal") writes += 1;
        if (writes === 2) at(b);
      });
      try {
        const s = await runSweep(deps);
        result = s.failed > 0 ? `done, ${s.failed} failed` : "done";
      } catch (e) {
        result = `threw ${(e as Error).name}`;
      }
      await writer.flush().catch(() => undefined);
      if (injected) h.ctx.faults.clear();
    }
    perRun.push(before - secrets(h, ids).expired);
    if (secrets(h, ids).expired === 0) break;
  }
  if (!injected) result = `${result} (boundary not reached)`;
  h.ctx.faults.clear();
  await writer.close().catch(() => undefined);
  await trail.flushSpool();
  const parent = await storedRecords(h, writerName);
  const child = await storedRecords(h, `${writerName}-child`);
  const end = secrets(h, ids);
  if (end.expired !== 0 || end.valid !== APPS) result = `${result}; NOT converged`;
  const removedRecords = [...parent.records, ...child.records].filter(
    (x) => x.Action === "sweepRemoval" && x.Outcome === "succeeded",
  ).length;
  const removals = perRun.reduce((a, b) => a + b, 0);
  const lost = Math.max(0, emitted.length - parent.records.length) + Math.max(0, removals - removedRecords);
  const row: CaseRow = {
    group: "sweep",
    boundary,
    fault,
    runs,
    result,
    renewals: 0,
    gaps,
    emitted: emitted.length,
    stored: parent.raw + child.raw,
    duplicates: Math.max(0, parent.records.length - emitted.length),
    lost,
    removals: `${perRun.join("+")} (cap ${CAP})`,
    ok:
      end.expired === 0 &&
      end.valid === APPS &&
      perRun.every((n) => n <= CAP) &&
      gaps === 0 &&
      lost === 0 &&
      parent.records.length <= emitted.length,
    ...(removals > removedRecords
      ? { note: `${removals - removedRecords} removal(s) without a record` }
      : {}),
  };
  rows.push(row);
  return row;
}

describe("fault matrix: sweep boundaries × faults", () => {
  let index = 0;
  for (const fault of FAULT_NAMES) {
    for (const boundary of BOUNDARIES) {
      const i = index++;
      it(`${fault} at ${boundary}`, async () => {
        const row = await runCase(i, boundary, fault);
        const end = row.removals!;
        expect(row.result).not.toContain("NOT converged");
        expect(row.gaps, "a valid credential at every boundary").toBe(0);
        expect(
          end
            .split(" ")[0]!
            .split("+")
            .every((n) => Number(n) <= CAP),
          `removals per run ${end}`,
        ).toBe(true);
        // Every removal is on record, a killed run's included: each is recorded (and flushed)
        // before and after it is made.
        expect(row.ok, JSON.stringify(row)).toBe(true);
      });
    }
  }
});
