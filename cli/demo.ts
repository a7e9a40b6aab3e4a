/**
 * `rollover demo`: the whole product on a local sandbox tenant, in under a minute.
 *
 * Starts the sandbox (seed `demo`) and `serve` in this process, subscribes the Event Grid
 * webhook, moves the virtual clock so certificates reach Key Vault's near-expiry window, lets
 * Event Grid deliver, moves past the grace window, runs a reconcile with the sweep, then prints
 * a before/after report and the audit trail.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SandboxHandle } from "../sandbox/index.js";
import { ensureTls } from "../sandbox/tls.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface KeyView {
  thumbprint: string;
  start: string;
  end: string;
}

function keysOf(sb: SandboxHandle, tenantId: string, id: string): KeyView[] {
  const o = sb.ctx.directory.get(tenantId, id);
  return (o?.keyCredentials ?? []).map((k) => ({
    thumbprint: createHash("sha1").update(k.key).digest("hex").toUpperCase(),
    start: k.startDateTime.slice(0, 10),
    end: k.endDateTime.slice(0, 10),
  }));
}

/**
 * Node reads NODE_EXTRA_CA_CERTS only at start, so the demo makes the sandbox CA first and, if
 * this process does not trust it yet, runs itself again with it.
 */
export async function demoMain(argv: string[]): Promise<number> {
  const stateDir = join(tmpdir(), "rollover-demo-state");
  mkdirSync(stateDir, { recursive: true });
  const tls = await ensureTls(stateDir);
  if (process.env.NODE_EXTRA_CA_CERTS !== tls.caCertPath) {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
      stdio: "inherit",
      env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caCertPath },
    });
    return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
  }
  return runDemo(stateDir);
}

async function runDemo(stateDir: string): Promise<number> {
  const started = Date.now();
  const out = (line = "") => process.stdout.write(`${line}\n`);
  const step = (line: string) => process.stderr.write(`» ${line}\n`);
  const quiet = () => {};
  const { startSandbox } = await import("../sandbox/index.js");
  const { DEMO } = await import("../sandbox/seeds.js");
  const { startServe } = await import("./serve.js");

  step("starting the sandbox tenant (seed: demo) and Azurite");
  const sb = await startSandbox({ seed: "demo", azurite: true, stateDir, log: quiet });
  let serve: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    const home = sb.urls.tenantId;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...sb.env,
      ROLLOVER_MANAGED_MODE: "true",
      ROLLOVER_SWEEP_MODE: "remove",
      ROLLOVER_MAX_REMOVALS_PER_RUN: "2",
      // legacy-portal belongs to another team: the deny list keeps the sweep's hands off it.
      ROLLOVER_DENY_LIST: DEMO.apps.legacy.id,
      ROLLOVER_VERIFY_TIMEOUT_SECONDS: "30",
    };
    // The managed identity credential reads its endpoint from the process environment.
    process.env.IDENTITY_ENDPOINT = sb.env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = sb.env.IDENTITY_HEADER;

    step("starting the Functions app (rollover serve) on the sandbox's virtual clock");
    serve = await startServe({ env, now: () => sb.ctx.clock.now(), log: quiet, timers: false });
    await sb.eventGrid.subscribe({
      name: "rollover-keyvault-events",
      endpointUrl: `${serve.url}/runtime/webhooks/eventgrid?functionName=keyVaultEvents&code=${serve.functionKey}`,
      includedEventTypes: [
        "Microsoft.KeyVault.CertificateNewVersionCreated",
        "Microsoft.KeyVault.CertificateNearExpiry",
        "Microsoft.KeyVault.CertificateExpired",
      ],
    });

    const bound = [
      {
        name: DEMO.apps.payments.displayName,
        tenant: home,
        id: DEMO.apps.payments.id,
        cert: DEMO.apps.payments.certificate,
      },
      {
        name: DEMO.apps.orders.displayName,
        tenant: home,
        id: DEMO.apps.orders.id,
        cert: DEMO.apps.orders.certificate,
      },
      {
        name: DEMO.apps.reporting.displayName,
        tenant: home,
        id: DEMO.apps.reporting.id,
        cert: DEMO.apps.reporting.certificate,
      },
      {
        name: DEMO.blueprint.displayName,
        tenant: home,
        id: DEMO.blueprint.id,
        cert: DEMO.blueprint.certificate,
      },
      {
        name: DEMO.partner.displayName,
        tenant: DEMO.secondTenantId,
        id: DEMO.partner.id,
        cert: DEMO.partner.certificate,
      },
    ];
    const before = new Map(bound.map((b) => [b.id, keysOf(sb, b.tenant, b.id)]));
    // Three more applications Rollover's identity owns, each with a valid and an expired client
    // secret: three removals for a cap of two, so one is deferred to the next run.
    const owned: Array<{ id: string; displayName: string }> = [];
    for (const name of ["ci-deployer", "billing-export", "hr-sync"]) {
      const app = sb.ctx.directory.createApplication(home, { displayName: name });
      sb.ctx.directory.addOwner(home, app.id, sb.ctx.managedIdentity.objectId);
      const t = sb.ctx.clock.now();
      sb.ctx.directory.addPasswordCredential(home, app.id, {
        displayName: "current",
        endDateTime: new Date(t + 200 * DAY).toISOString(),
      });
      sb.ctx.directory.addPasswordCredential(home, app.id, {
        displayName: "old",
        startDateTime: new Date(t - 500 * DAY).toISOString(),
        endDateTime: new Date(t - 100 * DAY).toISOString(),
      });
      owned.push({ id: app.id, displayName: name });
    }
    const swept = [DEMO.apps.legacy, DEMO.apps.marketing, ...owned];
    const secretsBefore = new Map(
      swept.map((a) => [a.id, sb.ctx.directory.get(home, a.id)?.passwordCredentials.length ?? 0]),
    );

    step(
      "moving the clock 1 day: Key Vault raises CertificateNearExpiry / CertificateExpired; Event Grid delivers",
    );
    await sb.ctx.clock.advance(DAY);
    for (let i = 0; i < 4; i++) {
      await sb.eventGrid.flush();
      await serve.idle(60_000);
    }
    step("running the reconcile timer: the sweep sees every credential for the first time (grace starts)");
    await serve.fireTimer("reconcile");
    await serve.idle(120_000);

    step(
      "moving the clock past the grace window (73 h) and running the reconcile timer (bindings, then the sweep)",
    );
    await sb.ctx.clock.advance(73 * HOUR);
    await serve.fireTimer("reconcile");
    await serve.idle(120_000);
    await sb.eventGrid.flush();
    await serve.idle(60_000);
    await serve.fireTimer("flushAudit").catch(() => undefined);

    out("Rollover demo — before and after");
    out("================================");
    out();
    for (const b of bound) {
      const was = before.get(b.id) ?? [];
      const now = keysOf(sb, b.tenant, b.id);
      const kept = new Set(now.map((k) => k.thumbprint));
      const had = new Set(was.map((k) => k.thumbprint));
      out(
        `${b.name}${b.tenant !== home ? " (partner tenant)" : ""} — Key Vault certificate ${b.cert}, ${sb.ctx.vault.versions(b.cert).length} versions`,
      );
      for (const k of was)
        out(
          `   before  ${k.thumbprint.slice(0, 16)}…  ${k.start} → ${k.end}${kept.has(k.thumbprint) ? "" : "   (retired)"}`,
        );
      for (const k of now)
        if (!had.has(k.thumbprint))
          out(`   after   ${k.thumbprint.slice(0, 16)}…  ${k.start} → ${k.end}   (new)`);
      out();
    }
    // What Rollover's identity may do here: exactly a managed-mode deployment's grants.
    const mi = sb.ctx.directory.get(home, sb.ctx.managedIdentity.objectId);
    const ownedNames = [DEMO.apps.reporting.displayName, ...owned.map((o) => o.displayName)];
    out(
      `Rollover's identity holds ${[...(mi?.appRoles ?? [])].sort().join(" and ")} (ROLLOVER_MANAGED_MODE on) and owns ${ownedNames.join(", ")}: the only apps whose credentials it may remove.`,
    );
    out();
    out("Sweep");
    for (const a of swept) {
      const left = sb.ctx.directory.get(home, a.id)?.passwordCredentials.length ?? 0;
      out(`   ${a.displayName}: client secrets ${secretsBefore.get(a.id)} → ${left}`);
    }
    const records = sb.ctx.logs.records({ stream: sb.urls.streamName }).map((r) => r.record);
    // Held back in the last sweep (the first one only saw every credential for the first time).
    const sweeps = records.filter((r) => r.Action === "sweepDeferred" || r.Action === "sweepRemoval");
    const lastRun = sweeps.length ? sweeps[sweeps.length - 1]!.RunId : undefined;
    const held = sweeps.filter((r) => r.Action === "sweepDeferred" && r.RunId === lastRun);
    const removed = records.filter((r) => r.Action === "sweepRemoval" && r.Outcome === "succeeded");
    out(`   removed: ${removed.length}; held back: ${held.length}`);
    for (const r of removed) out(`     removed  ${String(r.TargetDisplayName)}: ${String(r.Message)}`);
    for (const r of held.slice(0, 10))
      out(`     held     ${String(r.TargetDisplayName)}: ${String(r.Reason)}`);
    out();
    out(`Audit trail (${records.length} records in Log Analytics)`);
    for (const r of [...records].sort((a, b) =>
      String(a.TimeGenerated).localeCompare(String(b.TimeGenerated)),
    )) {
      out(
        `   ${String(r.TimeGenerated).slice(0, 19)}  ${String(r.Trigger).padEnd(9)} ${String(r.Action).padEnd(13)} ${String(r.Outcome).padEnd(9)} ${String(r.Reason).padEnd(24)} ${String(r.TargetDisplayName ?? r.CertificateName ?? "")}`,
      );
    }
    out();
    const { verifyAudit } = await import("../shared/audit/verify.js");
    const { rolloverFor } = await import("../functions/runtime.js");
    // The app's own trail: chain heads and spool in storage, heads signed in Key Vault.
    const trail = rolloverFor({ env, now: () => sb.ctx.clock.now(), log: quiet }).audit;
    const check = await verifyAudit(
      { kind: "sandbox", controlUrl: sb.urls.controlUrl, stream: sb.urls.streamName },
      trail
        ? {
            chains: trail.chains,
            spool: trail.spool,
            ...(trail.checkpointKey ? { verifier: trail.checkpointKey } : {}),
          }
        : {},
    );
    out(
      `Audit chain check (rollover audit verify): ${check.exitCode === 0 ? "whole: no gaps, edits or reordering; every chain's head signed in Key Vault" : `BROKEN\n${check.text}`}`,
    );
    out();
    out(
      `Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Try it yourself: npx rollover sandbox --seed demo (see README, "Try it without Azure").`,
    );
    return 0;
  } finally {
    await serve?.close().catch(() => undefined);
    await sb.close();
  }
}
