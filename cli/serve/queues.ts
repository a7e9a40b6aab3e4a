/**
 * serve's queue consumers: each queue function's queue polled from Azure Storage (Azurite
 * locally), base64 JSON messages, 16 at a time, five attempts then `<queue>-poison`, as host.json
 * sets. An empty queue is polled again after 50 ms, doubling up to `maxQueuePollMs`.
 */
import type { QueueClient } from "@azure/storage-queue";
import { decodeMessage, queueClient } from "../../shared/azure/queue.js";
import { errorSummary } from "../../shared/errors.js";
import type { QueueDefinition, ServeContext } from "./context.js";

const MAX_DEQUEUE_COUNT = 5;
const QUEUE_BATCH = 16;

export interface Queues {
  /** Polls the function's queue until serve closes. */
  poll(d: QueueDefinition): void;
  /** Messages waiting (approximately) in every polled queue. */
  pending(): Promise<number>;
  /** Resolves when every polling loop has ended (after serve closed). */
  stopped(): Promise<void>;
}

export function serveQueues(ctx: ServeContext, opts: { maxQueuePollMs?: number } = {}): Queues {
  const { log, signal } = ctx;
  const queues: QueueClient[] = [];
  const loops: Promise<void>[] = [];

  function poll(d: QueueDefinition) {
    const queue = queueClient(ctx.rollover.storage, d.queueName);
    const poison = queueClient(ctx.rollover.storage, `${d.queueName}-poison`);
    queues.push(queue);
    const maxWait = opts.maxQueuePollMs ?? 1000;
    let wake: (() => void) | undefined;
    signal.addEventListener("abort", () => wake?.(), { once: true });
    const loop = (async () => {
      await queue.createIfNotExists();
      let wait = 50;
      while (!signal.aborted) {
        let got = 0;
        try {
          const r = await queue.receiveMessages({ numberOfMessages: QUEUE_BATCH, visibilityTimeout: 300 });
          got = r.receivedMessageItems.length;
          await Promise.all(
            r.receivedMessageItems.map(async (m) => {
              try {
                await ctx.invoke(d.name, (ictx) => d.handler(decodeMessage(m.messageText), ictx));
                await queue.deleteMessage(m.messageId, m.popReceipt);
              } catch (e) {
                log(
                  `[${d.name}] message ${m.messageId} failed (attempt ${m.dequeueCount}): ${errorSummary(e)}`,
                );
                if (m.dequeueCount >= MAX_DEQUEUE_COUNT) {
                  await poison.createIfNotExists();
                  await poison.sendMessage(m.messageText);
                  await queue.deleteMessage(m.messageId, m.popReceipt);
                } else {
                  await queue.updateMessage(m.messageId, m.popReceipt, undefined, 0).catch(() => undefined);
                }
              }
            }),
          );
        } catch (e) {
          if (signal.aborted) break;
          log(`[${d.name}] polling ${d.queueName} failed: ${errorSummary(e)}`);
        }
        if (got > 0) {
          wait = 50;
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wait = Math.min(maxWait, wait * 2);
      }
    })();
    loops.push(loop);
  }

  return {
    poll,
    async pending() {
      let pending = 0;
      for (const q of queues) {
        const p = await q.getProperties().catch(() => ({ approximateMessagesCount: 0 }));
        pending += p.approximateMessagesCount ?? 0;
      }
      return pending;
    },
    async stopped() {
      await Promise.allSettled(loops);
    },
  };
}
