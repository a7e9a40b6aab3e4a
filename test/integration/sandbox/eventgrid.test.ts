import { readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { retryDelayMs } from "../../../sandbox/eventgrid/index.js";
import { sandboxStateDir, useSandbox } from "../../helpers/sandbox.js";

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

type Responder = (r: Received, res: ServerResponse) => void;

/** A small webhook: records every request and answers through a replaceable responder. */
class Webhook {
  received: Received[] = [];
  responder: Responder = defaultResponder;
  private server!: Server;
  url = "";

  async start(tls = false): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const r: Received = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: text ? JSON.parse(text) : undefined,
        };
        this.received.push(r);
        this.responder(r, res);
      });
    };
    if (tls) {
      const dir = sandboxStateDir();
      this.server = createHttpsServer(
        {
          cert: readFileSync(join(dir, "sandbox-server.pem")),
          key: readFileSync(join(dir, "sandbox-server.key")),
        },
        handler,
      );
    } else {
      this.server = createHttpServer(handler);
    }
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `${tls ? "https" : "http"}://127.0.0.1:${port}/api/events`;
    return this;
  }

  notifications(): Received[] {
    return this.received.filter((r) => r.headers["aeg-event-type"] === "Notification");
  }

  events(): Array<Record<string, unknown>> {
    return this.notifications().flatMap((r) => r.body as Array<Record<string, unknown>>);
  }

  reset(): void {
    this.received = [];
    this.responder = defaultResponder;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Answers validation (both schemas) and accepts notifications, as a well-behaved endpoint does. */
const defaultResponder: Responder = (r, res) => {
  if (r.method === "OPTIONS") {
    res.writeHead(200, { "WebHook-Allowed-Origin": String(r.headers["webhook-request-origin"]) });
    return res.end();
  }
  if (r.headers["aeg-event-type"] === "SubscriptionValidation") {
    const code = (r.body as Array<{ data: { validationCode: string } }>)[0]!.data.validationCode;
    res.writeHead(200, { "Content-Type": "application/json" });
    return res.end(JSON.stringify({ validationResponse: code }));
  }
  res.writeHead(200);
  res.end();
};

// biome-ignore lint/suspicious/noExplicitAny: test responses are read field by field
function call(url: string, method: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      { method, headers: payload ? { "Content-Type": "application/json" } : {} },
      (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: parseMaybe(text) }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

// biome-ignore lint/suspicious/noExplicitAny: test responses are read field by field
function parseMaybe(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

async function inSequence<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

const DAY_MS = 86_400_000;

describe("Event Grid", () => {
  const sb = useSandbox();
  const hook = new Webhook();
  let certCounter = 0;
  const certName = () => `eg-cert-${++certCounter}`;
  /** Validity ending in `days`; Key Vault only e-mails (no AutoRenew), so clock moves renew nothing. */
  const expiringIn = (days: number) => {
    const now = sb().ctx.clock.nowSeconds();
    return {
      notBefore: now - 300 * 86_400,
      expires: now + days * 86_400,
      policy: {
        lifetimeActions: [
          { trigger: { days_before_expiry: 30 }, action: { action_type: "EmailContacts" as const } },
        ],
      },
    };
  };

  beforeAll(async () => {
    await hook.start();
  });
  afterAll(async () => {
    await hook.close();
  });
  afterEach(async () => {
    await sb().eventGrid.flush();
    sb().eventGrid.reset();
    sb().eventGrid.configure({ duplicate: false, shuffle: false });
    hook.reset();
  });

  it("validates an Event Grid schema subscription with the SubscriptionValidationEvent handshake", async () => {
    const { eventGrid, urls } = sb();
    const sub = await eventGrid.subscribe({ name: "rollover-fn", endpointUrl: hook.url });
    expect(sub).toMatchObject({
      name: "rollover-fn",
      schema: "EventGridSchema",
      provisioningState: "Succeeded",
    });
    expect(hook.received).toHaveLength(1);
    const v = hook.received[0]!;
    expect(v.method).toBe("POST");
    expect(v.headers["aeg-event-type"]).toBe("SubscriptionValidation");
    const [event] = v.body as Array<{ data: { validationCode: string; validationUrl: string } }>;
    expect(event).toMatchObject({
      eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
      topic: urls.vaultResourceId,
      dataVersion: "1",
      metadataVersion: "1",
    });
    expect(event!.data.validationCode).toMatch(/^[0-9a-f-]{36}$/);
    expect(event!.data.validationUrl).toContain(`${urls.controlUrl}/eventgrid/validate?`);
  });

  it("accepts the asynchronous handshake: 200 without a body, then a GET of validationUrl", async () => {
    hook.responder = (r, res) => {
      if (r.headers["aeg-event-type"] === "SubscriptionValidation") {
        const url = (r.body as Array<{ data: { validationUrl: string } }>)[0]!.data.validationUrl;
        res.writeHead(200);
        res.end();
        setTimeout(() => void call(url, "GET"), 20);
        return;
      }
      defaultResponder(r, res);
    };
    // The handshake window is 5 minutes scaled by timeScale (300 ms at the default): scaled to
    // 30 s the GET cannot miss it on a slow machine (a broken handshake still fails inside the
    // test's time), and the subscription completes as soon as the GET comes.
    const { timeScale } = sb().eventGrid.configure({});
    sb().eventGrid.configure({ timeScale: 0.1 });
    try {
      const sub = await sb().eventGrid.subscribe({ name: "manual-validation", endpointUrl: hook.url });
      expect(sub.name).toBe("manual-validation");
    } finally {
      sb().eventGrid.configure({ timeScale });
    }
  });

  it("refuses a subscription whose endpoint fails the handshake, and keeps nothing", async () => {
    hook.responder = (_r, res) => {
      res.writeHead(202);
      res.end();
    };
    await expect(sb().eventGrid.subscribe({ name: "bad-endpoint", endpointUrl: hook.url })).rejects.toThrow(
      /validation handshake failed.*202/i,
    );
    hook.responder = (_r, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ validationResponse: "wrong" }));
    };
    await expect(sb().eventGrid.subscribe({ name: "bad-endpoint", endpointUrl: hook.url })).rejects.toThrow(
      /does not match/,
    );
    expect(sb().eventGrid.subscriptions()).toHaveLength(0);
  });

  it("delivers CertificateNewVersionCreated as a one-event array with the aeg-* headers and PascalCase data", async () => {
    const { eventGrid, ctx, urls } = sb();
    await eventGrid.subscribe({ name: "new-versions", endpointUrl: hook.url });
    const name = certName();
    const info = await ctx.vault.createCertificate(name, { ...expiringIn(200) });
    await eventGrid.flush();
    const [n] = hook.notifications();
    expect(n).toBeDefined();
    expect(n!.headers["content-type"]).toMatch(/^application\/json/);
    expect(n!.headers["aeg-event-type"]).toBe("Notification");
    expect(String(n!.headers["aeg-subscription-name"]).toLowerCase()).toBe("new-versions");
    expect(n!.headers["aeg-delivery-count"]).toBe("0");
    expect(n!.headers["aeg-data-version"]).toBe("1");
    expect(n!.headers["aeg-metadata-version"]).toBe("1");
    const body = n!.body as Array<Record<string, unknown>>;
    expect(body).toHaveLength(1);
    expect(body[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      topic: urls.vaultResourceId,
      subject: name,
      eventType: "Microsoft.KeyVault.CertificateNewVersionCreated",
      eventTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/),
      data: {
        Id: info.id,
        VaultName: urls.vaultName,
        ObjectType: "Certificate",
        ObjectName: name,
        Version: info.version,
        NBF: info.notBefore,
        EXP: info.expires,
      },
      dataVersion: "1",
      metadataVersion: "1",
    });
    expect(n!.headers["aeg-output-event-id"]).toBe(body[0]!.id);
  });

  it("speaks CloudEvents 1.0 to a CloudEvents subscription, after the OPTIONS abuse-protection handshake", async () => {
    const { eventGrid, ctx, urls } = sb();
    await eventGrid.subscribe({
      name: "cloud-events",
      endpointUrl: hook.url,
      schema: "CloudEventSchemaV1_0",
    });
    const handshake = hook.received[0]!;
    expect(handshake.method).toBe("OPTIONS");
    expect(handshake.headers["webhook-request-origin"]).toBe("eventgrid.azure.net");
    const name = certName();
    const info = await ctx.vault.createCertificate(name, { ...expiringIn(200) });
    await eventGrid.flush();
    const [n] = hook.notifications();
    expect(n!.headers["content-type"]).toMatch(/^application\/cloudevents-batch\+json/);
    expect(n!.headers["aeg-metadata-version"]).toBe("1.0");
    const [event] = n!.body as Array<Record<string, unknown>>;
    expect(event).toMatchObject({
      specversion: "1.0",
      source: urls.vaultResourceId,
      subject: name,
      type: "Microsoft.KeyVault.CertificateNewVersionCreated",
      data: { ObjectName: name, Version: info.version, ObjectType: "Certificate" },
    });
    expect(event!.time).toEqual(expect.any(String));
  });

  it("refuses a CloudEvents endpoint that does not allow the origin", async () => {
    hook.responder = (r, res) => {
      res.writeHead(r.method === "OPTIONS" ? 200 : 500);
      res.end();
    };
    await expect(
      sb().eventGrid.subscribe({ name: "no-origin", endpointUrl: hook.url, schema: "CloudEventSchemaV1_0" }),
    ).rejects.toThrow(/WebHook-Allowed-Origin/);
  });

  it("fires CertificateNearExpiry 30 days before exp and CertificateExpired at exp, once per version, on the virtual clock", async () => {
    const { eventGrid, ctx } = sb();
    const name = certName();
    await ctx.vault.createCertificate(name, { ...expiringIn(40) });
    await eventGrid.subscribe({
      name: "expiry",
      endpointUrl: hook.url,
      includedEventTypes: [
        "Microsoft.KeyVault.CertificateNearExpiry",
        "Microsoft.KeyVault.CertificateExpired",
      ],
    });
    const mine = () => hook.events().filter((e) => e.subject === name);

    await ctx.clock.advance(5 * DAY_MS);
    await eventGrid.flush();
    expect(mine()).toHaveLength(0);

    await ctx.clock.advance(6 * DAY_MS);
    await eventGrid.flush();
    expect(mine().map((e) => e.eventType)).toEqual(["Microsoft.KeyVault.CertificateNearExpiry"]);

    await ctx.clock.advance(DAY_MS);
    await eventGrid.flush();
    expect(mine()).toHaveLength(1);

    await ctx.clock.advance(30 * DAY_MS);
    await eventGrid.flush();
    expect(mine().map((e) => e.eventType)).toEqual([
      "Microsoft.KeyVault.CertificateNearExpiry",
      "Microsoft.KeyVault.CertificateExpired",
    ]);
  });

  it("only the current version counts: a renewed certificate gets no NearExpiry for its old version", async () => {
    const { eventGrid, ctx } = sb();
    const name = certName();
    await ctx.vault.createCertificate(name, { ...expiringIn(35) });
    await ctx.vault.createCertificate(name, { ...expiringIn(400) });
    await eventGrid.subscribe({
      name: "current-only",
      endpointUrl: hook.url,
      includedEventTypes: ["Microsoft.KeyVault.CertificateNearExpiry"],
    });
    await ctx.clock.advance(10 * DAY_MS);
    await eventGrid.flush();
    expect(hook.events().filter((e) => e.subject === name)).toHaveLength(0);
  });

  it("retries failed deliveries on Event Grid's schedule until one succeeds (aeg-delivery-count counts up)", async () => {
    const { eventGrid, ctx } = sb();
    await eventGrid.subscribe({ name: "flaky", endpointUrl: hook.url });
    let failures = 0;
    hook.responder = (r, res) => {
      if (r.headers["aeg-event-type"] === "Notification" && failures < 2) {
        failures += 1;
        res.writeHead(failures === 1 ? 500 : 503);
        return res.end();
      }
      defaultResponder(r, res);
    };
    await ctx.vault.createCertificate(certName(), { ...expiringIn(200) });
    await eventGrid.flush();
    const notes = hook.notifications();
    expect(notes.map((n) => n.headers["aeg-delivery-count"])).toEqual(["0", "1", "2"]);
    expect(new Set(notes.map((n) => (n.body as Array<{ id: string }>)[0]!.id)).size).toBe(1);
    const log = eventGrid.deliveries({ subscription: "flaky" });
    expect(log.map((d) => [d.attempt, d.status, d.outcome])).toEqual([
      [1, 500, "retry"],
      [2, 503, "retry"],
      [3, 200, "delivered"],
    ]);
  });

  it("counts only 200-204 as success and gives up after maxDeliveryAttempts", async () => {
    const { eventGrid, ctx } = sb();
    await eventGrid.subscribe({ name: "gives-up", endpointUrl: hook.url, maxDeliveryAttempts: 3 });
    hook.responder = (r, res) => {
      if (r.headers["aeg-event-type"] === "Notification") {
        res.writeHead(302, { Location: "http://127.0.0.1:1/" });
        return res.end();
      }
      defaultResponder(r, res);
    };
    await ctx.vault.createCertificate(certName(), { ...expiringIn(200) });
    await eventGrid.flush();
    const log = eventGrid.deliveries({ subscription: "gives-up" });
    expect(log.map((d) => d.outcome)).toEqual(["retry", "retry", "failed"]);
    expect(eventGrid.pending()).toBe(0);
  });

  it("retries a connection failure too", async () => {
    const { eventGrid, ctx } = sb();
    await eventGrid.subscribe({ name: "resets", endpointUrl: hook.url, maxDeliveryAttempts: 2 });
    let first = true;
    hook.responder = (r, res) => {
      if (r.headers["aeg-event-type"] === "Notification" && first) {
        first = false;
        res.socket?.destroy();
        return;
      }
      defaultResponder(r, res);
    };
    await ctx.vault.createCertificate(certName(), { ...expiringIn(200) });
    await eventGrid.flush();
    const log = eventGrid.deliveries({ subscription: "resets" });
    expect(log.map((d) => d.outcome)).toEqual(["retry", "delivered"]);
    expect(log[0]!.error).toBeDefined();
  });

  it("applies eventgrid faults to outbound deliveries (eventgrid=503x2 fails two attempts)", async () => {
    const { eventGrid, ctx } = sb();
    await eventGrid.subscribe({ name: "faulty", endpointUrl: hook.url });
    ctx.faults.set([{ service: "eventgrid", kind: "503", count: 2 }]);
    try {
      await ctx.vault.createCertificate(certName(), { ...expiringIn(200) });
      await eventGrid.flush();
    } finally {
      ctx.faults.clear();
    }
    const log = eventGrid.deliveries({ subscription: "faulty" });
    expect(log.map((d) => [d.status, d.outcome])).toEqual([
      [503, "retry"],
      [503, "retry"],
      [200, "delivered"],
    ]);
    expect(hook.notifications()).toHaveLength(1);
  });

  it("waits longer after 400/401/403/404 and 408 than after other failures, as the service does", () => {
    expect(retryDelayMs(1, 500)).toBe(10_000);
    expect(retryDelayMs(2, 500)).toBe(30_000);
    expect(retryDelayMs(1, 404)).toBe(300_000);
    expect(retryDelayMs(1, 408)).toBe(120_000);
    expect(retryDelayMs(1, 503)).toBe(30_000);
    expect(retryDelayMs(7, 500)).toBe(3_600_000);
    expect(retryDelayMs(20, undefined)).toBe(3_600_000);
  });

  it("delivers every event twice with the duplicate switch", async () => {
    const { eventGrid, ctx } = sb();
    await eventGrid.subscribe({ name: "dupes", endpointUrl: hook.url, duplicate: true });
    await ctx.vault.createCertificate(certName(), { ...expiringIn(200) });
    await eventGrid.flush();
    const ids = hook.events().map((e) => e.id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    expect(eventGrid.deliveries().filter((d) => d.duplicate)).toHaveLength(1);
  });

  it("keeps publish order by default and shuffles it with the global shuffle switch", async () => {
    const { eventGrid, ctx } = sb();
    await eventGrid.subscribe({ name: "ordering", endpointUrl: hook.url });
    const names = Array.from({ length: 12 }, () => certName());
    const versions = await inSequence(names, (n) => ctx.vault.createCertificate(n, { ...expiringIn(200) }));
    await eventGrid.flush();
    const published = versions.map((v) => v.name);
    expect(hook.events().map((e) => e.subject)).toEqual(published);

    // Published together (as a clock move publishes), shuffled deliveries arrive in another order.
    hook.received = [];
    eventGrid.configure({ shuffle: true, seed: 7 });
    for (const v of versions) eventGrid.publish("Microsoft.KeyVault.CertificateNewVersionCreated", v);
    await eventGrid.flush();
    const delivered = hook.events().map((e) => e.subject);
    expect([...delivered].sort()).toEqual([...published].sort());
    expect(delivered).not.toEqual(published);
  });

  it("filters by includedEventTypes and stops delivering after unsubscribe", async () => {
    const { eventGrid, ctx } = sb();
    await eventGrid.subscribe({
      name: "near-only",
      endpointUrl: hook.url,
      includedEventTypes: ["Microsoft.KeyVault.CertificateNearExpiry"],
    });
    await ctx.vault.createCertificate(certName(), { ...expiringIn(200) });
    await eventGrid.flush();
    expect(hook.notifications()).toHaveLength(0);
    expect(eventGrid.unsubscribe("near-only")).toBe(true);
    expect(eventGrid.unsubscribe("near-only")).toBe(false);
  });

  it("delivers to an HTTPS webhook that trusts the sandbox CA", async () => {
    const secure = await new Webhook().start(true);
    try {
      const { eventGrid, ctx } = sb();
      await eventGrid.subscribe({ name: "tls-hook", endpointUrl: secure.url });
      await ctx.vault.createCertificate(certName(), { ...expiringIn(200) });
      await eventGrid.flush();
      expect(secure.notifications()).toHaveLength(1);
    } finally {
      await secure.close();
    }
  });

  it("is driven by the control API: subscribe, advance the clock, flush, read deliveries", async () => {
    const { ctx, urls } = sb();
    const name = certName();
    await ctx.vault.createCertificate(name, { ...expiringIn(31) });
    const created = await call(`${urls.controlUrl}/eventgrid/subscriptions`, "POST", {
      name: "via-control",
      endpointUrl: hook.url,
      schema: "CloudEventSchemaV1_0",
    });
    expect(created.status).toBe(201);
    expect((await call(`${urls.controlUrl}/eventgrid/subscriptions`, "GET")).body.value).toHaveLength(1);

    const advanced = await call(`${urls.controlUrl}/clock/advance`, "POST", { days: 2 });
    expect(advanced.status).toBe(200);
    expect(advanced.body.queuedDeliveries).toBeGreaterThanOrEqual(1);
    const flushed = await call(`${urls.controlUrl}/eventgrid/flush`, "POST");
    expect(flushed.body).toMatchObject({ flushed: true, pending: 0 });
    const types = hook
      .events()
      .filter((e) => e.subject === name)
      .map((e) => e.type);
    expect(types).toEqual(["Microsoft.KeyVault.CertificateNearExpiry"]);
    const deliveries = await call(`${urls.controlUrl}/eventgrid/deliveries?subscription=via-control`, "GET");
    expect(deliveries.body.value.some((d: { subject: string }) => d.subject === name)).toBe(true);

    const bad = await call(`${urls.controlUrl}/eventgrid/subscriptions`, "POST", { endpointUrl: 42 });
    expect(bad.status).toBe(400);
    const gone = await call(`${urls.controlUrl}/eventgrid/subscriptions/via-control`, "DELETE");
    expect(gone.status).toBe(204);
    expect((await call(`${urls.controlUrl}/eventgrid/subscriptions/via-control`, "DELETE")).status).toBe(404);
  });
});
