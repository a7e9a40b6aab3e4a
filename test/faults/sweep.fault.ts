/**
 * Fault matrix, sweep: the sweep's boundaries (between two pages, before a removal, after a
 * removal) crossed with every fault — a Graph 429 storm, Key Vault 503s, connection resets, Logs
 * Ingestion down (switched on at the boundary, and kept on until it has hit a request) and SIGKILL
 * of the process there (a child process, test/faults/sweep-child.ts) — on both paths: `runSweep`
 * (the CLI, one process, page by page) and `runSweepPage` (the Functions app: a fanned-out run,
 * several pages at once). The tenant (sweep-drive.ts): 12 objects Rollover owns, each with a valid
 * and an expired secret (managed mode), and 3 bound applications with an expired key (removeKey
 * as the target, signed in Key Vault), read 5 a page; the cap is 6 removals a run. A first run
 * sees every credential (the grace window runs from first sight), the clock moves past the grace
 * window, then the case runs, and the sweep runs again until nothing removable is left. Checked:
 *
 * - the fault fired (the sandbox's fault hits grew; for SIGKILL, the child was killed);
 * - converges on rerun: every expired credential removed, every valid one kept;
 * - removals never above the cap in any run;
 * - a valid credential on every target at every moment (sampled at each boundary);
 * - no audit record lost and none twice after dedupe (as in the rotation matrix); a removal a
 *   killed process made is recovered once its journal lease has run out.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseFaultSpec } from "../../sandbox/faults.js";
import type { SandboxHandle } from "../../sandbox/index.js";
import { buildRollover, sweepDepsFor } from "../../shared/app.js";
import { fanoutStorage } from "../../shared/sweep/fanout.js";
import { JOURNAL_LEASE_MS } from "../../shared/azure/sweep-journal.js";
import { runSweep } from "../../shared/sweep/run.js";
import { useSandboxIdentity } from "../helpers/engine.js";
import { useSandbox } from "../helpers/sandbox.js";
import {
  CAP,
  credentials,
  drainRun,
  hookSweepWrites,
  PAGE,
  SETTINGS,
  seedSweepTenant,
} from "./sweep-drive.js";
import {
  auditTrail,
  type CaseRow,
  countingWriter,
  FAULTS,
  type FaultName,
  printTable,
  storedRecords,
} from "./harness.js";

const HOUR = 3_600_000;
const BOUNDARIES = ["between-pages", "before-removal", "after-removal"] as const;
type SweepBoundary = (typeof BOUNDARIES)[number];
const PATHS = ["runSweep", "runSweepPage"] as const;
type SweepPath = (typeof PATHS)[number];
const FAULT_NAMES: FaultName[] = [...(Object.keys(FAULTS) as FaultName[]), "SIGKILL"];
const CHILD = resolve(import.meta.dirname, "sweep-child.ts");
const TOTAL = 15;

const rows: CaseRow[] = [];
const sb = useSandbox({ seed: "empty", azurite: true });
afterAll(() => printTable("Fault matrix: sweep", rows));

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

function faultHits(h: SandboxHandle): number {
  let n = 0;
  for (const v of h.ctx.faults.hits.values()) n += v;
  return n;
}

async function runCase(
  index: number,
  path: SweepPath,
  boundary: SweepBoundary,
  fault: FaultName,
): Promise<CaseRow & { fired: boolean }> {
  const h = sb();
  const ids = await seedSweepTenant(h);
  useSandboxIdentity(h);
  const trail = auditTrail(h);
  const writerName = `sweep-fault-${index}`;
  const { writer, emitted } = countingWriter(trail, writerName, h.ctx.managedIdentity.objectId);
  const r = buildRollover({ ...h.env, ...SETTINGS });
  const st = fanoutStorage(r.storage);
  await st.queue.createIfNotExists();
  await st.queue.clearMessages();
  // First sight of every credential, then past the grace window (it runs from first sight).
  await runSweep(
    sweepDepsFor(buildRollover({ ...h.env, ...SETTINGS, ROLLOVER_SWEEP_MODE: "report" }), {
      audit: writer,
      now: () => h.ctx.clock.now(),
    }),
  );
  await h.ctx.clock.advance(2 * HOUR);
  let gaps = 0;
  let injected = false;
  let hitsAtInjection = 0;
  let fired = false;
  const perRun: number[] = [];
  const sample = () => {
    if (credentials(h, ids).targetsWithoutValid > 0) gaps += 1;
  };
  const at = (b: SweepBoundary) => {
    sample();
    if (!injected && fault !== "SIGKILL" && b === boundary) {
      hitsAtInjection = faultHits(h);
      h.ctx.faults.set(parseFaultSpec(FAULTS[fault]), 2000 + index);
      injected = true;
    }
  };
  let runs = 0;
  let result = "";
  for (; runs < 10; ) {
    runs += 1;
    const before = credentials(h, ids).expired;
    if (fault === "SIGKILL" && !injected) {
      const child = await runChild(h, {
        FAULT_PATH: path,
        FAULT_BOUNDARY: boundary,
        FAULT_WRITER: `${writerName}-child`,
        FAULT_CLOCK_OFFSET_MS: String(h.ctx.clock.offset),
      });
      injected = child.killed;
      fired = child.killed;
      result = child.killed ? "killed" : "done";
      sample();
      // The killed run is gone: its queue messages with it, and its journal entries wait until
      // their lease runs out; then the next run records what the killed one removed.
      await st.queue.clearMessages();
      await h.ctx.clock.advance(JOURNAL_LEASE_MS + 60_000);
    } else {
      let pages = 0;
      let writes = 0;
      const depsFor = () => {
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
        hookSweepWrites(deps, (b) => {
          if (b === "before-removal") writes += 1;
          if (writes === 2) at(b);
        });
        return deps;
      };
      try {
        if (path === "runSweep") {
          const s = await runSweep(depsFor());
          result = s.failed > 0 ? `done, ${s.failed} failed` : "done";
        } else {
          const d = await drainRun(st, depsFor, { now: h.ctx.clock.now() });
          result = d.pagesThrew > 0 ? `done, ${d.pagesThrew} page(s) redelivered` : "done";
          result += `, ${d.concurrentMax} pages at once`;
        }
      } catch (e) {
        result = `threw ${(e as Error).name}`;
      }
      await writer.flush().catch(() => undefined);
      // A fault stays on until it has hit a request: every case asserts that it fired.
      if (injected && faultHits(h) > hitsAtInjection) {
        fired = true;
        h.ctx.faults.clear();
      }
    }
    perRun.push(before - credentials(h, ids).expired);
    if (credentials(h, ids).expired === 0 && (!injected || fired)) break;
  }
  if (!injected) result = `${result} (boundary not reached)`;
  else if (!fired) result = `${result} (fault never fired)`;
  h.ctx.faults.clear();
  await writer.close().catch(() => undefined);
  await trail.flushSpool();
  const parent = await storedRecords(h, writerName);
  const child = await storedRecords(h, `${writerName}-child`);
  const end = credentials(h, ids);
  if (end.expired !== 0 || end.valid !== TOTAL) result = `${result}; NOT converged`;
  const removedRecords = [...parent.records, ...child.records].filter(
    (x) => x.Action === "sweepRemoval" && x.Outcome === "succeeded",
  ).length;
  const removals = perRun.reduce((a, b) => a + b, 0);
  const lost = Math.max(0, emitted.length - parent.records.length) + Math.max(0, removals - removedRecords);
  const row: CaseRow & { fired: boolean } = {
    group: "sweep",
    boundary: `${path} ${boundary}`,
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
    fired,
    ok:
      fired &&
      end.expired === 0 &&
      end.valid === TOTAL &&
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

describe("fault matrix: sweep boundaries × faults, on the CLI path and the Functions path", () => {
  let index = 0;
  for (const path of PATHS) {
    for (const fault of FAULT_NAMES) {
      for (const boundary of BOUNDARIES) {
        const i = index++;
        it(`${path}: ${fault} at ${boundary}`, async () => {
          const row = await runCase(i, path, boundary, fault);
          expect(row.fired, `the fault fired: ${row.result}`).toBe(true);
          expect(row.result).not.toContain("NOT converged");
          expect(row.gaps, "a valid credential at every boundary").toBe(0);
          expect(
            row
              .removals!.split(" ")[0]!
              .split("+")
              .every((n) => Number(n) <= CAP),
            `removals per run ${row.removals}`,
          ).toBe(true);
          // Every removal is on record, a killed run's included: each is recorded (and flushed)
          // before and after it is made, and a killed one is recovered from the journal.
          expect(row.ok, JSON.stringify(row)).toBe(true);
        });
      }
    }
  }
});
