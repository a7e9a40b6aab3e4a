/**
 * A CloudEvents 1.0 subscription (OPTIONS handshake, batched CloudEvents) rotates a certificate
 * like an Event Grid schema one; an Azure Monitor alert (common alert schema, custom properties)
 * rotates a binding through remediateAlert.
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../sandbox/seeds.js";
import { useSandbox } from "../helpers/sandbox.js";
import { auditRecords, commonAlert, thumbprintsOf, useServe, webhookUrl } from "./serve-helpers.js";

const sb = useSandbox({ seed: "demo", azurite: true });
const serve = useServe(sb);

describe("CloudEvents and alerts through serve", () => {
  it("a CloudEvents subscription passes the OPTIONS handshake and renews, attaches and verifies", async () => {
    const h = sb();
    const s = serve();
    const app = DEMO.apps.payments;
    const old = h.ctx.vault.latest(app.certificate)!;
    const sub = await h.eventGrid.subscribe({
      name: "rollover-ce",
      endpointUrl: webhookUrl(s),
      schema: "CloudEventSchemaV1_0",
      includedEventTypes: [
        "Microsoft.KeyVault.CertificateNearExpiry",
        "Microsoft.KeyVault.CertificateNewVersionCreated",
      ],
    });
    expect(sub.schema).toBe("CloudEventSchemaV1_0");
    await h.ctx.clock.advance(60_000);
    await h.eventGrid.flush();
    const renewed = h.ctx.vault.latest(app.certificate)!;
    expect(renewed.version).not.toBe(old.version);
    expect(h.ctx.vault.versions(app.certificate)).toHaveLength(2);
    expect(thumbprintsOf(h, app.id).sort()).toEqual([old.thumbprintHex, renewed.thumbprintHex].sort());
    const delivered = h.eventGrid.deliveries({ subscription: "rollover-ce" });
    expect(delivered.some((d) => d.subject === app.certificate && d.outcome === "delivered")).toBe(true);
    expect(delivered.filter((d) => d.outcome === "failed")).toEqual([]);
    await h.eventGrid.unsubscribe("rollover-ce");
  });

  it("an alert with rollover-action=rotate rotates the binding now", async () => {
    const h = sb();
    const s = serve();
    const app = DEMO.apps.orders;
    const old = h.ctx.vault.latest(app.certificate)!;
    const res = await fetch(`${s.url}/api/alerts`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "x-functions-key": s.functionKey },
      body: JSON.stringify(commonAlert({ "rollover-action": "rotate", "rollover-target": app.certificate })),
    });
    const body = (await res.json()) as {
      result: string;
      outcomes: Array<{ certificate: string; result: string }>;
    };
    expect(res.status).toBe(200);
    expect(body.result).toBe("rotated");
    expect(body.outcomes).toEqual([expect.objectContaining({ certificate: app.certificate })]);
    const renewed = h.ctx.vault.latest(app.certificate)!;
    expect(renewed.version).not.toBe(old.version);
    expect(thumbprintsOf(h, app.id).sort()).toEqual([old.thumbprintHex, renewed.thumbprintHex].sort());
    const records = auditRecords(h);
    expect(
      records.some((r) => r.Action === "alert" && r.Reason === "AlertRotate" && r.Trigger === "alert"),
    ).toBe(true);
    expect(
      records.some(
        (r) => r.Action === "renew" && r.Outcome === "succeeded" && r.CertificateName === app.certificate,
      ),
    ).toBe(true);

    // The same alert resolved: nothing changes.
    const resolved = await fetch(`${s.url}/api/alerts?code=${encodeURIComponent(s.functionKey)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(
        commonAlert({ "rollover-action": "rotate", "rollover-target": app.certificate }, "Resolved"),
      ),
    });
    expect(resolved.status).toBe(200);
    expect(((await resolved.json()) as { result: string }).result).toBe("noChange");
    expect(h.ctx.vault.versions(app.certificate)).toHaveLength(2);
  });

  it("an alert with rollover-action=sweep and a target object id sweeps that object", async () => {
    const h = sb();
    const s = serve();
    const legacy = DEMO.apps.legacy;
    const res = await fetch(`${s.url}/api/alerts`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "x-functions-key": s.functionKey },
      body: JSON.stringify(commonAlert({ "rollover-action": "sweep", "rollover-target": legacy.id })),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: string; sweep: { targets: number; removed: number } };
    expect(body.result).toBe("swept");
    expect(body.sweep.targets).toBe(1);
    expect(body.sweep.removed).toBe(0); // report mode (the default)
    expect(auditRecords(h).some((r) => r.Action === "sweepFinding" && r.TargetObjectId === legacy.id)).toBe(
      true,
    );
  });
});
