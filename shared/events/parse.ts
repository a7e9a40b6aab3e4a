/**
 * Parsing of Event Grid deliveries: a single event or an array, in the Event Grid schema or
 * CloudEvents 1.0. Key Vault sends `data` with PascalCase keys and `NBF`/`EXP` as epoch seconds
 * (or null); Microsoft's own samples carry camelCase keys, stray spaces in keys and numeric
 * strings, so keys are read case-insensitively and trimmed, and numbers may come as strings.
 */
import { z } from "zod";
import type { EventSchemaName, KeyVaultEvent, KeyVaultEventData } from "./types.js";

export class EventParseError extends Error {
  override name = "EventParseError";
}

const text = z.string().trim();
const epoch = z
  .union([
    z.number().finite(),
    z
      .string()
      .trim()
      .regex(/^-?\d+(\.\d+)?$/, "epoch seconds")
      .transform(Number),
    z.null(),
  ])
  .optional();

const dataSchema = z.object({
  id: text.optional(),
  vaultname: text.optional(),
  objecttype: text.optional(),
  objectname: text.optional(),
  version: text.optional(),
  nbf: epoch,
  exp: epoch,
});

const eventGridSchema = z.object({
  id: z.string().min(1, "id is required"),
  topic: z.string().optional(),
  subject: z.string().optional(),
  eventType: z.string().min(1, "eventType is required"),
  eventTime: z.string().optional(),
  data: z.unknown().optional(),
  dataVersion: z.string().optional(),
  metadataVersion: z.string().optional(),
});

const cloudEventSchema = z.object({
  id: z.string().min(1, "id is required"),
  source: z.string().min(1, "source is required"),
  specversion: z.string().refine((v) => v === "1.0", "specversion must be 1.0"),
  type: z.string().min(1, "type is required"),
  subject: z.string().optional(),
  time: z.string().optional(),
  data: z.unknown().optional(),
});

/** Lower-cases and trims every key of an object (one level). */
export function normaliseKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.trim().toLowerCase()] = v;
  return out;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Which schema an event object is in, or undefined when it is neither. */
export function schemaOf(raw: unknown): EventSchemaName | undefined {
  if (!isObject(raw)) return undefined;
  if ("specversion" in raw) return "CloudEventSchemaV1_0";
  if ("eventType" in raw) return "EventGridSchema";
  return undefined;
}

function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return "invalid";
  const path = i.path.length ? `${i.path.join(".")}: ` : "";
  return `${path}${i.message}`;
}

/** `data` of a Key Vault event. CloudEvents may carry it as a JSON string. */
export function parseKeyVaultData(raw: unknown): KeyVaultEventData {
  let value = raw;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new EventParseError("data is a string that is not JSON");
    }
  }
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new EventParseError("data must be an object");
  const r = dataSchema.safeParse(normaliseKeys(value));
  if (!r.success) throw new EventParseError(`data.${firstIssue(r.error)}`);
  const d = r.data;
  return {
    ...(d.id ? { id: d.id } : {}),
    ...(d.vaultname ? { vaultName: d.vaultname } : {}),
    ...(d.objecttype ? { objectType: d.objecttype } : {}),
    ...(d.objectname ? { objectName: d.objectname } : {}),
    ...(d.version ? { version: d.version } : {}),
    ...(d.nbf !== undefined ? { nbf: d.nbf } : {}),
    ...(d.exp !== undefined ? { exp: d.exp } : {}),
  };
}

/** One event object, in either schema. Throws EventParseError with a one-line reason. */
export function parseEvent(raw: unknown): KeyVaultEvent {
  const schema = schemaOf(raw);
  if (schema === "EventGridSchema") {
    const r = eventGridSchema.safeParse(raw);
    if (!r.success) throw new EventParseError(`not an Event Grid event: ${firstIssue(r.error)}`);
    const e = r.data;
    return {
      schema,
      id: e.id,
      type: e.eventType,
      source: e.topic ?? "",
      ...(e.subject !== undefined ? { subject: e.subject } : {}),
      ...(e.eventTime !== undefined ? { time: e.eventTime } : {}),
      data: parseKeyVaultData(e.data),
    };
  }
  if (schema === "CloudEventSchemaV1_0") {
    const r = cloudEventSchema.safeParse(raw);
    if (!r.success) throw new EventParseError(`not a CloudEvent: ${firstIssue(r.error)}`);
    const e = r.data;
    return {
      schema,
      id: e.id,
      type: e.type,
      source: e.source,
      ...(e.subject !== undefined ? { subject: e.subject } : {}),
      ...(e.time !== undefined ? { time: e.time } : {}),
      data: parseKeyVaultData(e.data),
    };
  }
  throw new EventParseError(
    "not an event: expected an Event Grid event (id, eventType, …) or a CloudEvent (id, source, specversion, type)",
  );
}

/** A delivery body (already JSON-parsed): one event or an array of them. */
export function eventsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) {
    if (body.length === 0) throw new EventParseError("the array holds no events");
    return body;
  }
  if (isObject(body)) return [body];
  throw new EventParseError("the body must be an event object or an array of events");
}

/** Parses a whole delivery: one event or an array, each checked. */
export function parseEvents(body: unknown): KeyVaultEvent[] {
  return eventsOf(body).map((e, i) => {
    try {
      return parseEvent(e);
    } catch (err) {
      if (err instanceof EventParseError && Array.isArray(body)) {
        throw new EventParseError(`event ${i}: ${err.message}`);
      }
      throw err;
    }
  });
}

/** The validation code of a subscription validation event (`data.validationCode`), if it is one. */
export function validationCodeOf(raw: unknown): string | undefined {
  if (!isObject(raw)) return undefined;
  let data: unknown = raw.data;
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  if (!isObject(data)) return undefined;
  const code = normaliseKeys(data).validationcode;
  return typeof code === "string" && code.length > 0 ? code : undefined;
}
