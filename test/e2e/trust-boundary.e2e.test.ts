/**
 * Inputs other people can write steer nothing (issue: trust boundary), through `rollover serve`
 * against the sandbox:
 *
 * - a version imported with a foreign key into a bound certificate, its events delivered by the
 *   sandbox's Event Grid: the foreign key never reaches the target, the refusal is audited;
 * - a forged CertificateNearExpiry for a fresh version renews nothing (events only wake a
 *   reconcile; Key Vault's own data decides);
 * - an event whose data.Id or data.VaultName names another vault than its (allowed) topic is
 *   refused with 400, audited, and changes nothing;
 * - an alert storm on a step that keeps failing renews at most once per renewal buffer, and the
 *   binding stops retrying on its own after ROLLOVER_MAX_STEP_FAILURES failures in a row.
 */
import { CertificateClient } from "@azure/keyvault-certificates";
import { describe, expect, it } from "vitest";
import { parseFaultSpec } from "../../sandbox/faults.js";
import { sandboxCredential } from "../integration/sandbox/kv-helpers.js";
import { encryptedPfx, issuedCert } from "../helpers/pfx.js";
import { seedDueBinding } from "../helpers/engine.js";
import { useSandbox } from "../helpers/sandbox.js";
import {
  auditRecords,
  certificateEvent,
  commonAlert,
  deliver,
  thumbprintsOf,
  useServe,
  webhookUrl,
} from "./serve-helpers.js";

const NEAR = "Microsoft.KeyVault.CertificateNearExpiry";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const sb = useSandbox({ seed: "empty", azurite: true });
const serve = useServe(sb, { settings: { ROLLOVER_MAX_STEP_FAILURES: "4" } });

async function post(url: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

describe("provenance", () => {
  it("an imported version with a foreign key, its events delivered by Event Grid: never on the target, refusal audited", async () => {
    const h = sb();
    const s = serve();
    const { app, ref } = await seedDueBinding(h, "import-attack", { expiresInDays: 300 });
    await h.eventGrid.subscribe({ name: "rollover-import", endpointUrl: webhookUrl(s) });
    const certs = new CertificateClient(h.urls.vaultUrl, sandboxCredential(sb), {
      disableChallengeResourceVerification: true,
    });
    const made = await issuedCert({ notBefore: new Date(h.ctx.clock.now() - DAY) });
    await certs.importCertificate(ref.certificateName, encryptedPfx([made.leaf, made.ca], made.pkcs8, "pw"), {
      password: "pw",
      tags: { "rollover-target": app.id },
    });
    await h.ctx.clock.advance(60_000);
    await h.eventGrid.flush();
    const delivered = h.eventGrid.deliveries({ subscription: "rollover-import" });
    expect(delivered.some((d) => d.subject === ref.certificateName && d.outcome === "delivered")).toBe(true);
    expect(thumbprintsOf(h, app.id)).not.toContain(made.sha1Hex);
    const mine = auditRecords(h).filter((r) => r.CertificateName === ref.certificateName);
    expect(
      mine.some(
        (r) => r.Action === "refuse" && r.Outcome === "failed" && r.Reason === "VersionNotIssuedByRollover",
      ),
    ).toBe(true);
    expect(mine.filter((r) => r.Action === "attach" && r.Outcome === "succeeded")).toEqual([]);
    await h.eventGrid.unsubscribe("rollover-import");
  });
});

describe("events hint, never decide", () => {
  it("a forged near-expiry event for a fresh version renews nothing", async () => {
    const h = sb();
    const s = serve();
    // 365-day certificate with 300 days left: not due by Key Vault's data.
    const { app, ref } = await seedDueBinding(h, "fresh-cert", { expiresInDays: 300 });
    const before = h.ctx.vault.versions(ref.certificateName).length;
    const keys = thumbprintsOf(h, app.id);
    const forged = certificateEvent(h, NEAR, ref.certificateName);
    // The forger claims the version expires tomorrow.
    (forged.data as Record<string, unknown>).EXP = Math.floor((h.ctx.clock.now() + DAY) / 1000);
    for (let i = 0; i < 3; i++) expect(await deliver(s, forged, 1)).toBe(1);
    expect(h.ctx.vault.versions(ref.certificateName)).toHaveLength(before);
    expect(thumbprintsOf(h, app.id)).toEqual(keys);
    const mine = auditRecords(h).filter((r) => r.CertificateName === ref.certificateName);
    expect(mine.filter((r) => r.Action === "renew")).toEqual([]);
    expect(mine.some((r) => r.Action === "wait" && r.Reason === "UpToDate")).toBe(true);
  });

  it.each([
    ["data.Id in another vault", { Id: "https://other-kv.vault.azure.net/certificates/CERT/v1" }],
    ["data.VaultName of another vault", { VaultName: "other-kv" }],
  ])("an allowed topic whose %s is refused with 400, audited, nothing changes", async (_n, override) => {
    const h = sb();
    const s = serve();
    const { app, ref } = await seedDueBinding(h, `steer-${Object.keys(override)[0]}`);
    const before = h.ctx.vault.versions(ref.certificateName).length;
    const keys = thumbprintsOf(h, app.id);
    const event = certificateEvent(h, NEAR, ref.certificateName);
    const data = event.data as Record<string, unknown>;
    for (const [k, v] of Object.entries(override)) data[k] = v.replace("CERT", ref.certificateName);
    const res = await post(webhookUrl(s), [event], { "aeg-event-type": "Notification" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/EventVaultMismatch/);
    // The binding is due: any reconcile would have renewed it.
    expect(h.ctx.vault.versions(ref.certificateName)).toHaveLength(before);
    expect(thumbprintsOf(h, app.id)).toEqual(keys);
    const mine = auditRecords(h).filter((r) => r.CertificateName === ref.certificateName);
    expect(mine.map((r) => `${r.Action}:${r.Outcome}:${r.Reason}`)).toEqual([
      "eventRejected:failed:EventVaultMismatch",
    ]);
  });
});

describe("remediation cannot loop", () => {
  it("an alert storm on a failing step renews at most once per buffer window, then stops for a person", async () => {
    const h = sb();
    const s = serve();
    const { ref } = await seedDueBinding(h, "storm-cert");
    // Every sign-in as the target fails (an outage, or Conditional Access): attach keeps failing.
    h.ctx.faults.set(parseFaultSpec("entra=down"), 1);
    const statuses: number[] = [];
    const renewTimes: number[] = [];
    try {
      // Twelve alerts, eight hours apart: four renewal-buffer windows (24 h).
      for (let i = 0; i < 12; i++) {
        const seen = auditRecords(h).length;
        const res = await post(
          `${s.url}/api/alerts`,
          commonAlert({ "rollover-action": "rotate", "rollover-target": ref.certificateName }),
          { "x-functions-key": s.functionKey },
        );
        statuses.push(res.status);
        await res.arrayBuffer();
        for (const r of auditRecords(h).slice(seen)) {
          if (r.CertificateName === ref.certificateName && r.Action === "renew" && r.Outcome === "succeeded")
            renewTimes.push(h.ctx.clock.now());
        }
        await h.ctx.clock.advance(8 * HOUR);
      }
    } finally {
      h.ctx.faults.clear();
    }
    // At most one renewal in any buffer window, and here exactly one in all: the new version is
    // fresh by Key Vault's data, so no alert makes it due again.
    expect(renewTimes).toHaveLength(1);
    expect(h.ctx.vault.versions(ref.certificateName)).toHaveLength(2);
    const mine = auditRecords(h).filter((r) => r.CertificateName === ref.certificateName);
    const attachFailures = mine.filter((r) => r.Action === "attach" && r.Outcome === "failed");
    expect(attachFailures).toHaveLength(4); // ROLLOVER_MAX_STEP_FAILURES
    const stopped = mine.filter((r) => r.Reason === "StepFailureLimit");
    expect(stopped.length).toBeGreaterThan(0);
    expect(stopped.every((r) => r.Action === "refuse" && r.Outcome === "failed")).toBe(true);
    // While failing the alert asks to be sent again (503); once stopped, the answer is final.
    expect(statuses.slice(0, 4).every((x) => x === 503)).toBe(true);
    expect(statuses.at(-1)).toBe(200);
  });
});
