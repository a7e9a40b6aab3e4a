/**
 * Crash safety: a rotation is killed (SIGKILL) at every step boundary in turn, then run again.
 * After each: exactly one new Key Vault version for the renewal window, the new key on the
 * target exactly once, the old key removed only after verification and the grace window, and a
 * valid credential on the target at every moment we can observe (at the crash and at the end).
 */
import { createHash } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import { describe, expect, it } from "vitest";
import { LEASE_CONTAINER } from "../../../shared/azure/storage.js";
import { BOUNDARIES, type Boundary } from "../../../shared/rotation/engine.js";
import { runNode } from "../../helpers/cli.js";
import { makeEngine, seedDueBinding } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;

describe("crash safety: SIGKILL at every step boundary, then run again", () => {
  const sb = useSandbox({ seed: "empty", azurite: true });

  function validKeys(appId: string): number {
    const { ctx, urls } = sb();
    const now = ctx.clock.now();
    return ctx.directory
      .get(urls.tenantId, appId)!
      .keyCredentials.filter((k) => Date.parse(k.startDateTime) <= now && now < Date.parse(k.endDateTime))
      .length;
  }

  /** Runs the child without blocking this process, which serves the sandbox it talks to. */
  function runChild(certificate: string, crashAt?: Boundary) {
    return runNode(["test/integration/rotation/crash-child.ts"], {
      ...process.env,
      ...sb().env,
      ROLLOVER_TEST_CERTIFICATE: certificate,
      ...(crashAt ? { ROLLOVER_TEST_CRASH_AT: crashAt } : {}),
    });
  }

  /** A dead process's lease expires by itself; the test breaks it instead of waiting. */
  async function expireLeases(): Promise<void> {
    const container = BlobServiceClient.fromConnectionString(
      sb().env.AzureWebJobsStorage!,
    ).getContainerClient(LEASE_CONTAINER);
    for await (const b of container.listBlobsFlat()) {
      if (b.properties.leaseState === "leased")
        await container.getBlobClient(b.name).getBlobLeaseClient().breakLease(0);
    }
  }

  for (const [i, boundary] of BOUNDARIES.entries()) {
    it(`killed ${boundary}`, async () => {
      const { ctx, urls } = sb();
      const t = urls.tenantId;
      const name = `crash-${i}`;
      const { app, ref } = await seedDueBinding(sb(), name);
      const { engine, audit } = makeEngine(sb());

      if (boundary.endsWith("retire")) {
        // Get to the grace window first, then past it.
        const first = await engine.reconcile(ref);
        expect(first.reason).toBe("GraceWindowOpen");
        await ctx.clock.advance(73 * HOUR);
      }

      const crashed = await runChild(name, boundary);
      expect(crashed.signal, crashed.stderr).toBe("SIGKILL");
      expect(crashed.stdout + crashed.stderr).not.toMatch(
        /-----BEGIN|PRIVATE KEY|eyJ[\w-]{10,}\.[\w-]{10,}\./,
      );
      expect(validKeys(app.id)).toBeGreaterThanOrEqual(1);

      await expireLeases();
      let out = await engine.reconcile(ref);
      if (out.reason === "RenewalInProgress") {
        // Killed right after Key Vault took the create: the rerun found the operation still
        // running and recorded it as Rollover's; once Key Vault issued the version, go on.
        await ctx.vault.settle();
        out = await engine.reconcile(ref);
      }
      if (out.reason === "GraceWindowOpen") {
        await ctx.clock.advance(73 * HOUR);
        out = await engine.reconcile(ref);
      }
      expect(out.result, out.message).toBe("converged");

      const versions = ctx.vault.versions(name);
      expect(versions).toHaveLength(2);
      const latest = ctx.vault.latest(name)!;
      const keys = ctx.directory.get(t, app.id)!.keyCredentials;
      const thumb = (der: Uint8Array) => createHash("sha1").update(der).digest("hex").toUpperCase();
      expect(keys.filter((k) => thumb(k.key) === latest.thumbprintHex)).toHaveLength(1);
      expect(keys).toHaveLength(1);
      expect(validKeys(app.id)).toBe(1);
      // No change is recorded twice by the runs that lived.
      for (const action of ["renew", "attach", "verify", "retire"]) {
        expect(
          audit.events.filter((e) => e.action === action && e.outcome === "succeeded").length,
          action,
        ).toBeLessThanOrEqual(1);
      }
      // A change the killed run made but did not live to record is recorded by the rerun.
      const step = /^after-(renew|attach|retire)$/.exec(boundary)?.[1];
      if (step) {
        expect(
          audit.events.some(
            (e) => e.action === step && e.outcome === "succeeded" && e.reason === "RecoveredStep",
          ),
        ).toBe(true);
      }
    });
  }
});
