/**
 * Event Grid: the vault's system topic, delivering Key Vault certificate events to subscribed
 * webhooks the way Event Grid push delivery does (kv-monitor-functions.md §1):
 *
 * - a subscription is created only after its endpoint passed the validation handshake
 *   (Event Grid schema: a `Microsoft.EventGrid.SubscriptionValidationEvent` answered with
 *   `{validationResponse}` or, asynchronously, a GET of `validationUrl`; CloudEvents schema: the
 *   HTTP-webhook abuse-protection `OPTIONS` request answered with `WebHook-Allowed-Origin`);
 * - `CertificateNewVersionCreated` on every new version, `CertificateNearExpiry` 30 days before the
 *   current version's `exp` and `CertificateExpired` at `exp`, both on the virtual clock, once per
 *   version;
 * - one event per request as a JSON array, `aeg-*` headers, success only on 200–204, at-least-once
 *   with Event Grid's retry schedule compressed by `timeScale`, and switches for duplicate
 *   delivery and shuffled order.
 */
import { randomUUID } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { seededRandom } from "../faults.js";
import type { CertificateVersionInfo, SandboxContext } from "../types.js";

export type EventSchema = "EventGridSchema" | "CloudEventSchemaV1_0";

export const CERTIFICATE_EVENT_TYPES = [
  "Microsoft.KeyVault.CertificateNewVersionCreated",
  "Microsoft.KeyVault.CertificateNearExpiry",
  "Microsoft.KeyVault.CertificateExpired",
] as const;
export type CertificateEventType = (typeof CERTIFICATE_EVENT_TYPES)[number];

/** "CertificateNearExpiry … triggered 30 days before the expiration date" (event-schema-key-vault.md). */
export const NEAR_EXPIRY_SECONDS = 30 * 24 * 3600;

/**
 * Event Grid's retry schedule (delivery-and-retry.md): 10 s, 30 s, 1 min, 5 min, 10 min, 30 min,
 * 1 h, then hourly up to 24 h; at most 30 attempts by default; event time-to-live 1440 minutes.
 */
export const RETRY_SCHEDULE_MS = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
export const DEFAULT_MAX_DELIVERY_ATTEMPTS = 30;
export const DEFAULT_EVENT_TTL_MINUTES = 1440;

/** Origin Event Grid names in the CloudEvents abuse-protection handshake (webhook-event-delivery.md). */
export const WEBHOOK_REQUEST_ORIGIN = "eventgrid.azure.net";

export interface SubscriptionInit {
  /** 3–64 letters, digits and hyphens, as Event Grid allows; default `sub-<n>`. */
  name?: string;
  endpointUrl: string;
  schema?: EventSchema;
  /** Only these event types are delivered (`filter.includedEventTypes`); default all. */
  includedEventTypes?: string[];
  /** `retryPolicy.maxDeliveryAttempts`, 1–30. */
  maxDeliveryAttempts?: number;
  /** `retryPolicy.eventTimeToLiveInMinutes`, 1–1440 (on the compressed clock). */
  eventTimeToLiveInMinutes?: number;
  /** Deliver every event twice (this subscription). */
  duplicate?: boolean;
  /** Deliver queued events in a random order (this subscription). */
  shuffle?: boolean;
}

export interface EventSubscription {
  name: string;
  endpointUrl: string;
  schema: EventSchema;
  includedEventTypes: string[] | null;
  maxDeliveryAttempts: number;
  eventTimeToLiveInMinutes: number;
  duplicate: boolean;
  shuffle: boolean;
  provisioningState: "Succeeded";
  createdAt: string;
}

export interface EventGridSettings {
  /**
   * Factor applied to Event Grid's delays (retry schedule, time-to-live, async validation window).
   * 1 is real time; the default 0.001 turns 10 s into 10 ms and 24 h into 86 s.
   */
  timeScale: number;
  /** Deliver every event twice, on every subscription. */
  duplicate: boolean;
  /** Deliver queued events in a random order, on every subscription. */
  shuffle: boolean;
  /** How long a webhook has to answer (Event Grid waits 30 s). Not scaled. */
  responseTimeoutMs: number;
  /**
   * With shuffle on, each delivery is also held back a random 0..shuffleWindowMs, so events
   * published close together can overtake each other even when they are queued one by one.
   */
  shuffleWindowMs: number;
  /** Seed of the shuffle's random order. */
  seed: number;
}

/** An event as it sits on the topic (Event Grid schema fields). */
export interface TopicEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: Record<string, unknown>;
  dataVersion: string;
  metadataVersion: string;
}

/** One delivery attempt (or give-up), newest last. */
export interface DeliveryLogEntry {
  subscription: string;
  eventId: string;
  eventType: string;
  subject: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** HTTP status, when the endpoint answered. */
  status?: number;
  error?: string;
  outcome: "delivered" | "retry" | "failed";
  /** The copy the duplicate switch added. */
  duplicate: boolean;
  time: string;
}

export class SubscriptionValidationError extends Error {
  override name = "SubscriptionValidationError";
}

interface Delivery {
  sub: LiveSubscription;
  event: TopicEvent;
  attempts: number;
  firstQueuedAt: number;
  duplicate: boolean;
}

interface LiveSubscription extends EventSubscription {
  ready: Delivery[];
  pumping: boolean;
  timers: Set<NodeJS.Timeout>;
  removed: boolean;
}

const NAME_RE = /^[A-Za-z0-9-]{3,64}$/;

export class EventGridService {
  private readonly subs = new Map<string, LiveSubscription>();
  private readonly log: DeliveryLogEntry[] = [];
  private readonly fired = new Set<string>();
  private readonly pendingValidations = new Map<string, { code: string; resolve: () => void }>();
  private readonly waiters: Array<() => void> = [];
  private outstanding = 0;
  private counter = 0;
  private closed = false;
  private random: () => number;
  private current: EventGridSettings = {
    timeScale: 0.001,
    duplicate: false,
    shuffle: false,
    responseTimeoutMs: 30_000,
    shuffleWindowMs: 50,
    seed: 1,
  };

  constructor(
    readonly ctx: SandboxContext,
    settings: Partial<EventGridSettings> = {},
  ) {
    this.current = { ...this.current, ...settings };
    this.random = seededRandom(this.current.seed);
    ctx.vault.onNewVersion((info) => {
      this.publish("Microsoft.KeyVault.CertificateNewVersionCreated", info);
    });
    ctx.clock.onAdvance((_from, to) => {
      this.checkExpiry(Math.floor(to / 1000));
    });
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Creates a subscription once its endpoint passed the validation handshake; throws
   * `SubscriptionValidationError` (and keeps nothing) when it did not, as the service fails
   * the subscription's provisioning.
   */
  async subscribe(init: SubscriptionInit): Promise<EventSubscription> {
    if (this.closed) throw new Error("Event Grid is closed");
    const sub = this.normalise(init);
    if (this.subs.has(sub.name)) {
      throw new SubscriptionValidationError(`an event subscription named "${sub.name}" already exists`);
    }
    if (sub.schema === "EventGridSchema") await this.validateEventGrid(sub);
    else await this.validateCloudEvents(sub);
    this.subs.set(sub.name, sub);
    this.ctx.log(`event grid: subscription ${sub.name} → ${sub.endpointUrl} (${sub.schema})`);
    return publicView(sub);
  }

  /** Deletes a subscription; queued and retrying deliveries to it are dropped. */
  unsubscribe(name: string): boolean {
    const sub = this.subs.get(name);
    if (!sub) return false;
    this.subs.delete(name);
    sub.removed = true;
    for (const t of sub.timers) clearTimeout(t);
    const dropped = sub.ready.length + sub.timers.size;
    sub.timers.clear();
    sub.ready = [];
    this.settle(dropped);
    return true;
  }

  subscriptions(): EventSubscription[] {
    return [...this.subs.values()].map(publicView);
  }

  /** Changes a subscription's duplicate/shuffle switches. */
  updateSubscription(name: string, change: { duplicate?: boolean; shuffle?: boolean }): EventSubscription {
    const sub = this.subs.get(name);
    if (!sub) throw new RangeError(`no event subscription named "${name}"`);
    if (change.duplicate !== undefined) sub.duplicate = change.duplicate;
    if (change.shuffle !== undefined) sub.shuffle = change.shuffle;
    return publicView(sub);
  }

  settings(): EventGridSettings {
    return { ...this.current };
  }

  configure(change: Partial<EventGridSettings>): EventGridSettings {
    if (change.timeScale !== undefined && !(change.timeScale > 0 && change.timeScale <= 1)) {
      throw new RangeError("timeScale must be > 0 and <= 1");
    }
    if (change.responseTimeoutMs !== undefined && !(change.responseTimeoutMs > 0)) {
      throw new RangeError("responseTimeoutMs must be > 0");
    }
    if (change.shuffleWindowMs !== undefined && !(change.shuffleWindowMs >= 0)) {
      throw new RangeError("shuffleWindowMs must be >= 0");
    }
    this.current = { ...this.current, ...change };
    if (change.seed !== undefined) this.random = seededRandom(change.seed);
    return this.settings();
  }

  // ---------------------------------------------------------------- delivery state

  /** Resolves once every queued delivery (retries included) has been delivered or given up. */
  flush(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The delivery log: one entry per attempt. */
  deliveries(filter?: { subscription?: string }): DeliveryLogEntry[] {
    const all = filter?.subscription
      ? this.log.filter((d) => d.subscription === filter.subscription)
      : this.log;
    return all.map((d) => ({ ...d }));
  }

  /** Deliveries queued or waiting for a retry. */
  pending(): number {
    return this.outstanding;
  }

  /** Forgets subscriptions, the delivery log and which versions already had their events. */
  reset(): void {
    for (const name of [...this.subs.keys()]) this.unsubscribe(name);
    this.log.length = 0;
    this.fired.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const name of [...this.subs.keys()]) this.unsubscribe(name);
    for (const p of this.pendingValidations.values()) p.resolve();
    this.pendingValidations.clear();
  }

  /**
   * Completes an asynchronous validation: the endpoint answered the validation event without a
   * `validationResponse` and then called `validationUrl` (served by the control API).
   */
  completeAsyncValidation(id: string, code: string): boolean {
    const p = this.pendingValidations.get(id);
    if (!p || p.code !== code) return false;
    this.pendingValidations.delete(id);
    p.resolve();
    return true;
  }

  // ---------------------------------------------------------------- publishing

  /** Publishes a certificate event for a version to every matching subscription. */
  publish(eventType: CertificateEventType, info: CertificateVersionInfo): TopicEvent {
    const event: TopicEvent = {
      id: randomUUID(),
      topic: this.ctx.urls.vaultResourceId,
      subject: info.name,
      eventType,
      eventTime: eventTime(this.ctx.clock.now()),
      // Key Vault sends PascalCase data with NBF/EXP as epoch-second numbers (research §1.2:
      // azure-sdk-for-net issue #22932; formicalab/certlc's observed CertificateNearExpiry).
      data: {
        Id: info.id,
        VaultName: this.ctx.urls.vaultName,
        ObjectType: "Certificate",
        ObjectName: info.name,
        Version: info.version,
        NBF: info.notBefore,
        EXP: info.expires,
      },
      dataVersion: "1",
      metadataVersion: "1",
    };
    for (const sub of this.subs.values()) {
      if (sub.includedEventTypes && !sub.includedEventTypes.includes(eventType)) continue;
      this.enqueue({ sub, event, attempts: 0, firstQueuedAt: Date.now(), duplicate: false });
      if (sub.duplicate || this.current.duplicate) {
        this.enqueue({ sub, event, attempts: 0, firstQueuedAt: Date.now(), duplicate: true });
      }
    }
    return event;
  }

  /** Fires NearExpiry/Expired for current versions whose moment the clock has reached. */
  private checkExpiry(nowSeconds: number): void {
    for (const name of this.ctx.vault.certificateNames()) {
      const info = this.ctx.vault.latest(name);
      if (!info) continue;
      const near = `near:${info.id}`;
      const expired = `expired:${info.id}`;
      if (!this.fired.has(near) && nowSeconds >= info.expires - NEAR_EXPIRY_SECONDS) {
        this.fired.add(near);
        this.publish("Microsoft.KeyVault.CertificateNearExpiry", info);
      }
      if (!this.fired.has(expired) && nowSeconds >= info.expires) {
        this.fired.add(expired);
        this.publish("Microsoft.KeyVault.CertificateExpired", info);
      }
    }
  }

  private enqueue(d: Delivery): void {
    this.outstanding += 1;
    const { sub } = d;
    if ((sub.shuffle || this.current.shuffle) && this.current.shuffleWindowMs > 0) {
      const timer = setTimeout(
        () => {
          sub.timers.delete(timer);
          if (sub.removed) return;
          sub.ready.push(d);
          void this.pump(sub);
        },
        Math.floor(this.random() * this.current.shuffleWindowMs),
      );
      sub.timers.add(timer);
      return;
    }
    sub.ready.push(d);
    setImmediate(() => void this.pump(sub));
  }

  private settle(n = 1): void {
    this.outstanding -= n;
    if (this.outstanding <= 0) {
      this.outstanding = 0;
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Sends a subscription's ready deliveries one by one (in a random order when shuffling). */
  private async pump(sub: LiveSubscription): Promise<void> {
    if (sub.pumping || sub.removed) return;
    sub.pumping = true;
    try {
      while (sub.ready.length > 0 && !sub.removed) {
        const batch = sub.ready.splice(0);
        if (sub.shuffle || this.current.shuffle) shuffleInPlace(batch, this.random);
        for (let i = 0; i < batch.length; i++) {
          if (sub.removed) {
            // Deleted mid-batch: the rest of the batch is dropped with the subscription.
            this.settle(batch.length - i);
            break;
          }
          await this.attempt(batch[i]!);
        }
      }
    } finally {
      sub.pumping = false;
    }
  }

  private async attempt(d: Delivery): Promise<void> {
    const { sub, event } = d;
    d.attempts += 1;
    const body = sub.schema === "EventGridSchema" ? [event] : [toCloudEvent(event)];
    const headers: Record<string, string> = {
      "Content-Type":
        sub.schema === "EventGridSchema"
          ? "application/json; charset=utf-8"
          : "application/cloudevents-batch+json; charset=utf-8",
      "aeg-event-type": "Notification",
      "aeg-subscription-name": sub.name.toUpperCase(),
      "aeg-delivery-count": String(d.attempts - 1),
      "aeg-metadata-version": sub.schema === "EventGridSchema" ? event.metadataVersion : "1.0",
      "aeg-output-event-id": event.id,
    };
    if (sub.schema === "EventGridSchema") headers["aeg-data-version"] = event.dataVersion;
    let status: number | undefined;
    let error: string | undefined;
    // Faults for the `eventgrid` service act on outbound deliveries (path `/subscriptions/{name}`):
    // an injected status or connection failure stands for what the endpoint would have answered.
    const fault = this.ctx.faults.decide("eventgrid", "POST", `/subscriptions/${sub.name}`);
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.kind === "status") {
      status = fault.status;
    } else if (fault.kind === "reset" || fault.kind === "timeout") {
      error = `injected fault: ${fault.kind}`;
    } else {
      try {
        const res = await post(
          sub.endpointUrl,
          "POST",
          headers,
          JSON.stringify(body),
          this.current.responseTimeoutMs,
        );
        status = res.status;
      } catch (e) {
        error = (e as Error).message;
      }
    }
    if (sub.removed) {
      this.settle();
      return;
    }
    const ok = status !== undefined && status >= 200 && status <= 204;
    const entry: DeliveryLogEntry = {
      subscription: sub.name,
      eventId: event.id,
      eventType: event.eventType,
      subject: event.subject,
      attempt: d.attempts,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
      outcome: "delivered",
      duplicate: d.duplicate,
      time: new Date().toISOString(),
    };
    if (ok) {
      this.log.push(entry);
      this.settle();
      return;
    }
    const delay = retryDelayMs(d.attempts, status) * this.current.timeScale;
    const ttlMs = sub.eventTimeToLiveInMinutes * 60_000 * this.current.timeScale;
    const expired = Date.now() + delay - d.firstQueuedAt > ttlMs;
    if (d.attempts >= sub.maxDeliveryAttempts || expired) {
      this.log.push({ ...entry, outcome: "failed" });
      this.ctx.log(
        `event grid: gave up ${event.eventType} ${event.subject} to ${sub.name} after ${d.attempts} attempt(s)`,
      );
      this.settle();
      return;
    }
    this.log.push({ ...entry, outcome: "retry" });
    const timer = setTimeout(() => {
      sub.timers.delete(timer);
      if (sub.removed) return;
      sub.ready.push(d);
      void this.pump(sub);
    }, delay);
    sub.timers.add(timer);
  }

  // ---------------------------------------------------------------- validation

  private normalise(init: SubscriptionInit): LiveSubscription {
    let url: URL;
    try {
      url = new URL(init.endpointUrl);
    } catch {
      throw new SubscriptionValidationError(`endpointUrl "${init.endpointUrl}" is not an absolute URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new SubscriptionValidationError("endpointUrl must be an http(s) URL");
    }
    const name = init.name ?? `sub-${++this.counter}`;
    if (!NAME_RE.test(name)) {
      throw new SubscriptionValidationError(
        `subscription name "${name}" must be 3-64 letters, digits or hyphens`,
      );
    }
    const schema = init.schema ?? "EventGridSchema";
    if (schema !== "EventGridSchema" && schema !== "CloudEventSchemaV1_0") {
      throw new SubscriptionValidationError(
        `schema must be EventGridSchema or CloudEventSchemaV1_0, not "${schema}"`,
      );
    }
    const attempts = init.maxDeliveryAttempts ?? DEFAULT_MAX_DELIVERY_ATTEMPTS;
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 30) {
      throw new SubscriptionValidationError("maxDeliveryAttempts must be an integer from 1 to 30");
    }
    const ttl = init.eventTimeToLiveInMinutes ?? DEFAULT_EVENT_TTL_MINUTES;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 1440) {
      throw new SubscriptionValidationError("eventTimeToLiveInMinutes must be an integer from 1 to 1440");
    }
    const types = init.includedEventTypes?.length ? [...init.includedEventTypes] : null;
    return {
      name,
      endpointUrl: url.toString(),
      schema,
      includedEventTypes: types,
      maxDeliveryAttempts: attempts,
      eventTimeToLiveInMinutes: ttl,
      duplicate: init.duplicate ?? false,
      shuffle: init.shuffle ?? false,
      provisioningState: "Succeeded",
      createdAt: new Date(this.ctx.clock.now()).toISOString(),
      ready: [],
      pumping: false,
      timers: new Set(),
      removed: false,
    };
  }

  /**
   * Event Grid schema handshake (webhook-event-delivery.md): POST a validation event; the endpoint
   * answers 200 with `{"validationResponse": code}`, or 200 without it and then GETs
   * `validationUrl` within 5 minutes (scaled by `timeScale`).
   */
  private async validateEventGrid(sub: LiveSubscription): Promise<void> {
    const code = randomUUID();
    const id = randomUUID();
    const validationUrl = `${this.ctx.urls.controlUrl}/eventgrid/validate?id=${id}&t=${encodeURIComponent(
      eventTime(this.ctx.clock.now()),
    )}&apiVersion=2022-06-15&code=${code}`;
    const event = {
      id: randomUUID(),
      topic: this.ctx.urls.vaultResourceId,
      subject: "",
      data: { validationCode: code, validationUrl },
      eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
      eventTime: eventTime(this.ctx.clock.now()),
      metadataVersion: "1",
      dataVersion: "1",
    };
    const asyncDone = new Promise<void>((resolve) => this.pendingValidations.set(id, { code, resolve }));
    let res: { status: number; headers: IncomingHttpHeaders; body: string };
    try {
      res = await post(
        sub.endpointUrl,
        "POST",
        {
          "Content-Type": "application/json; charset=utf-8",
          "aeg-event-type": "SubscriptionValidation",
          "aeg-subscription-name": sub.name.toUpperCase(),
          "aeg-delivery-count": "0",
          "aeg-data-version": "1",
          "aeg-metadata-version": "1",
        },
        JSON.stringify([event]),
        this.current.responseTimeoutMs,
      );
    } catch (e) {
      this.pendingValidations.delete(id);
      throw new SubscriptionValidationError(
        `Webhook validation handshake failed for ${sub.endpointUrl}: ${(e as Error).message}`,
      );
    }
    if (res.status !== 200) {
      this.pendingValidations.delete(id);
      throw new SubscriptionValidationError(
        `Webhook validation handshake failed for ${sub.endpointUrl}. Http POST request failed with response code ${res.status}.`,
      );
    }
    let answered: unknown;
    try {
      answered = res.body
        ? (JSON.parse(res.body) as { validationResponse?: unknown }).validationResponse
        : undefined;
    } catch {
      answered = undefined;
    }
    if (answered !== undefined) {
      this.pendingValidations.delete(id);
      if (String(answered).toLowerCase() !== code) {
        throw new SubscriptionValidationError(
          `Webhook validation handshake failed for ${sub.endpointUrl}: validationResponse does not match the validationCode`,
        );
      }
      return;
    }
    const windowMs = Math.max(50, 5 * 60_000 * this.current.timeScale);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), windowMs);
    });
    const outcome = await Promise.race([asyncDone.then(() => "done" as const), timedOut]);
    clearTimeout(timer);
    this.pendingValidations.delete(id);
    if (outcome === "timeout" || this.closed) {
      throw new SubscriptionValidationError(
        `Webhook validation handshake failed for ${sub.endpointUrl}: no validationResponse and validationUrl was not called in time`,
      );
    }
  }

  /**
   * CloudEvents schema handshake: the HTTP 1.1 Web Hooks abuse protection (CloudEvents
   * http-webhook.md §4, used by Event Grid per webhook-event-delivery.md): an OPTIONS request with
   * `WebHook-Request-Origin`; the endpoint allows it with `WebHook-Allowed-Origin` (the origin or `*`).
   */
  private async validateCloudEvents(sub: LiveSubscription): Promise<void> {
    let res: { status: number; headers: IncomingHttpHeaders };
    try {
      res = await post(
        sub.endpointUrl,
        "OPTIONS",
        { "WebHook-Request-Origin": WEBHOOK_REQUEST_ORIGIN, "WebHook-Request-Rate": "120" },
        undefined,
        this.current.responseTimeoutMs,
      );
    } catch (e) {
      throw new SubscriptionValidationError(
        `Webhook validation handshake failed for ${sub.endpointUrl}: ${(e as Error).message}`,
      );
    }
    const allowed = String(res.headers["webhook-allowed-origin"] ?? "").trim();
    if (
      res.status < 200 ||
      res.status > 204 ||
      (allowed !== "*" && allowed.toLowerCase() !== WEBHOOK_REQUEST_ORIGIN)
    ) {
      throw new SubscriptionValidationError(
        `Webhook validation handshake failed for ${sub.endpointUrl}: OPTIONS answered ${res.status} with WebHook-Allowed-Origin "${allowed}"`,
      );
    }
  }
}

/**
 * The wait before the next attempt: the schedule's step, but at least what the failure calls for
 * (delivery-and-retry.md: 400/401/403/404 ≥ 5 min, 408 ≥ 2 min, 503 ≥ 30 s, others ≥ 10 s).
 */
export function retryDelayMs(attemptsMade: number, status: number | undefined): number {
  const step = RETRY_SCHEDULE_MS[attemptsMade - 1] ?? 3_600_000;
  let floor = 10_000;
  if (status === 400 || status === 401 || status === 403 || status === 404) floor = 300_000;
  else if (status === 408) floor = 120_000;
  else if (status === 503) floor = 30_000;
  return Math.max(step, floor);
}

/** The CloudEvents 1.0 form of an event (cloud-event-schema.md; research §1.3). */
export function toCloudEvent(e: TopicEvent): Record<string, unknown> {
  return {
    id: e.id,
    source: e.topic,
    specversion: "1.0",
    type: e.eventType,
    subject: e.subject,
    time: e.eventTime,
    data: e.data,
  };
}

/** Event Grid writes eventTime with 7 fractional digits (`2019-07-25T01:08:33.1036736Z`). */
function eventTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
}

function publicView(s: LiveSubscription): EventSubscription {
  return {
    name: s.name,
    endpointUrl: s.endpointUrl,
    schema: s.schema,
    includedEventTypes: s.includedEventTypes ? [...s.includedEventTypes] : null,
    maxDeliveryAttempts: s.maxDeliveryAttempts,
    eventTimeToLiveInMinutes: s.eventTimeToLiveInMinutes,
    duplicate: s.duplicate,
    shuffle: s.shuffle,
    provisioningState: s.provisioningState,
    createdAt: s.createdAt,
  };
}

function shuffleInPlace<T>(list: T[], random: () => number): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
}

/**
 * One HTTP(S) request to a webhook. HTTPS targets are checked against the process's trusted CAs,
 * which include the sandbox CA through NODE_EXTRA_CA_CERTS.
 */
function post(
  target: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    const payload = body === undefined ? undefined : Buffer.from(body, "utf8");
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method,
        headers: {
          ...headers,
          "User-Agent": "AzureEventGridSandbox/1.0",
          ...(payload ? { "Content-Length": String(payload.length) } : {}),
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}
