/**
 * Azure Storage queues (@azure/storage-queue), in the Functions host's own account: the sweep's
 * fan-out queue. Messages are base64 JSON, the encoding the Functions queue trigger expects by
 * default (host.json `extensions.queues.messageEncoding`).
 */
import { type QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { NO_STORAGE, type StorageSettings, storageEndpoint } from "./storage.js";

export const SWEEP_QUEUE = "rollover-sweep";

export function queueClient(s: StorageSettings, queue: string): QueueClient {
  if (s.connectionString)
    return QueueServiceClient.fromConnectionString(s.connectionString).getQueueClient(queue);
  if (s.accountName && s.credential)
    return new QueueServiceClient(storageEndpoint(s, "queue"), s.credential).getQueueClient(queue);
  throw new Error(NO_STORAGE);
}

export function encodeMessage(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64");
}

/** A message as the queue trigger hands it over: base64 decoded, then JSON when it is JSON. */
export function decodeMessage(text: string): unknown {
  let s = text;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    s = Buffer.from(text, "base64").toString("utf8");
  }
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
