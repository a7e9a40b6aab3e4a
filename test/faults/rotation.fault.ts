/**
 * Fault matrix, rotation: every step boundary of a rotation (before/after renew, attach, verify,
 * retire) crossed with every fault — a Graph 429 storm, Key Vault 503s, connection resets, Logs
 * Ingestion down (each switched on when the engine reaches the boundary) and SIGKILL of the
 * process at the boundary (a child process, test/faults/rotation-child.ts). After each case, runs
 * again until the binding rests, and checks the invariants:
 *
 * - converges on rerun: the new key attached and verified, the old one retired;
 * - exactly one renewal: two Key Vault versions;
 * - a valid credential on the target at every moment (sampled at each boundary, and after a kill);
 * - no audit record lost and none twice after dedupe: what the writers took is in the sandbox's
 *   Log Analytics once (RecordId), after the spool in Azurite is flushed; every change made
 *   (renew, attach, verify, retire) has its record.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseFaultSpec } from "../../sandbox/faults.js";
import type { SandboxHandle } from "../../sandbox/index.js";
import type { AuditTrail } from "../../shared/audit/index.js";
import { BOUNDARIES, type Boundary } from "../../shared/rotation/engine.js";
import { makeEngine, seedDueBinding } from "../helpers/engine.js";
import { useSandbox } from "../helpers/sandbox.js";
import {
  auditTrail,
  type CaseRow,
  countingWriter,
  FAULTS,
  type FaultName,
  hasValidBackedKey,
  leasesLapsed,
  printTable,
  storedRecords,
} from "./harness.js";

const HOUR = 3_600_000;
const FAULT_NAMES: FaultName[] = [...(Object.keys(FAULTS) as FaultName[]), "SIGKILL"];
const CHILD = resolve(import.meta.dirname, "rotation-child.ts");
const CHANGES = ["renew", "attach", "verify", "retire"];

const rows: CaseRow[] = [];
const sb = useSandbox({ seed: "empty", azurite: true });
let trail: AuditTrail;

beforeAll(() => {
  const h = sb();
  // Rollover's identity reads targets (Application.Read.All), as deployed.
  h.ctx.directory.grantAppRole(h.urls.tenantId, h.ctx.managedIdentity.objectId, "Application.Read.All");
  trail = auditTrail(h);
});
afterAll(() => printTable("Fault matrix: rotation", rows));

function runChild(
  h: SandboxHandle,
  env: Record<string, string>,
): Promise<{ killed: boolean; result?: string; boundaries: string[] }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
      env: { ...process.env, ...h.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString("utf8");
    });
    child.once("error", rej);
    child.once("exit", (code, signal) => {
      const lines = out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { boundary?: string; result?: string });
      const boundaries = lines.flatMap((l) => (l.boundary ? [l.boundary] : []));
      const result = lines.find((l) => l.result)?.result;
      if (signal !== "SIGKILL" && code !== 0) rej(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      else res({ killed: signal === "SIGKILL", ...(result ? { result } : {}), boundaries });
    });
  });
}

async function runCase(index: number, boundary: Boundary, fault: FaultName): Promise<CaseRow> {
  const h = sb();
  const name = `rot-${index}`;
  const { app, ref } = await seedDueBinding(h, name);
  const writerName = `fault-${name}`;
  const { writer, emitted } = countingWriter(trail, writerName, h.ctx.managedIdentity.objectId);
  let gaps = 0;
  let injected = false;
  const sample = () => {
    if (!hasValidBackedKey(h, app.id, name)) gaps += 1;
  };
  const { engine } = makeEngine(h, {
    audit: writer,
    onBoundary: (b) => {
      sample();
      if (!injected && fault !== "SIGKILL" && b === boundary) {
        h.ctx.faults.set(parseFaultSpec(FAULTS[fault]), 1000 + index);
        injected = true;
      }
    },
  });
  sample();
  let runs = 0;
  let result = "";
  let note = "";
  for (; runs < 16; ) {
    runs += 1;
    if (fault === "SIGKILL" && !injected) {
      const child = await runChild(h, {
        FAULT_BOUNDARY: boundary,
        FAULT_CERT: name,
        FAULT_VAULT: ref.vaultName,
        FAULT_WRITER: `${writerName}-child`,
        FAULT_CLOCK_OFFSET_MS: String(h.ctx.clock.offset),
      });
      sample();
      injected = child.killed;
      result = child.killed ? "killed" : (child.result ?? "?");
    } else {
      try {
        result = (await engine.reconcile(ref)).result;
      } catch (e) {
        result = `threw ${(e as Error).name}`;
      }
      await writer.flush().catch(() => undefined);
      if (injected) h.ctx.faults.clear();
    }
    const keys = h.ctx.directory.get(h.urls.tenantId, app.id)!.keyCredentials;
    if (result === "converged" && keys.length === 1 && h.ctx.vault.versions(name).length === 2) break;
    // A killed run leaves its lease until it lapses (15 s, on the storage service's clock): wait for
    // that, rather than break it as an operator would, so the case shows the binding recovers on
    // its own. A wait is the grace window (or a back-off after a failure): let it pass.
    if (result === "locked" || result === "killed") await leasesLapsed(h);
    else await h.ctx.clock.advance(result === "waiting" ? 73 * HOUR : 25 * HOUR);
  }
  if (!injected) note = "boundary not reached";
  h.ctx.faults.clear();
  await writer.close().catch(() => undefined);
  await trail.flushSpool();
  const parent = await storedRecords(h, writerName);
  const child = await storedRecords(h, `${writerName}-child`);
  const records = [...parent.records, ...child.records];
  const done = new Set(records.filter((r) => r.Outcome === "succeeded").map((r) => String(r.Action)));
  const missingChanges = CHANGES.filter((c) => !done.has(c));
  const lostEmitted = Math.max(0, emitted.length - parent.records.length);
  const lost = lostEmitted + missingChanges.length;
  if (missingChanges.length) note = `${note ? `${note}; ` : ""}no record of: ${missingChanges.join(", ")}`;
  const renewals = h.ctx.vault.versions(name).length - 1;
  const finalKeys = h.ctx.directory.get(h.urls.tenantId, app.id)!.keyCredentials.length;
  const converged = result === "converged" && finalKeys === 1;
  const row: CaseRow = {
    group: "rotation",
    boundary,
    fault,
    runs,
    result,
    renewals,
    gaps,
    emitted: emitted.length,
    stored: parent.raw + child.raw,
    duplicates: Math.max(parent.records.length - emitted.length, 0),
    lost,
    ok: converged && renewals === 1 && gaps === 0 && lost === 0 && parent.records.length <= emitted.length,
    ...(note ? { note } : {}),
  };
  rows.push(row);
  return row;
}

describe("fault matrix: rotation step boundaries × faults", () => {
  let index = 0;
  for (const fault of FAULT_NAMES) {
    for (const boundary of BOUNDARIES) {
      const i = index++;
      it(`${fault} at ${boundary}`, async () => {
        const row = await runCase(i, boundary, fault);
        expect(row.result, JSON.stringify(row)).toBe("converged");
        expect(row.renewals, "exactly one renewal").toBe(1);
        expect(row.gaps, "a valid credential at every boundary").toBe(0);
        // Each record once in Log Analytics after dedupe by RecordId: none stored twice.
        expect(row.duplicates, "audit records stored twice after dedupe").toBe(0);
        // Every change is on record, a killed run's included: the engine records its intent before
        // a change and the next run records a change the killed run made but did not record.
        expect(row.lost, `audit records lost: ${row.note ?? ""}`).toBe(0);
      });
    }
  }
});
