/**
 * The one table of Rollover's functions. functions/index.ts registers it with the Functions host
 * (`app.eventGrid`, `app.timer`, `app.storageQueue`, `app.http`); `rollover serve` mounts the same
 * entries under the host's routes. Names are part of the contract (infra, alert rules, docs).
 */
import type { HttpHandler, HttpMethod, InvocationContext, Timer } from "@azure/functions";
import { SWEEP_QUEUE } from "../shared/azure/queue.js";
import { loadConfig } from "../shared/config.js";
import { safeLine } from "../shared/log.js";
import { flushAuditHandler } from "./flushAudit.js";
import { keyVaultEventsHandler } from "./keyVaultEvents.js";
import { reconcileHandler } from "./reconcile.js";
import { remediateAlertHandler } from "./remediateAlert.js";
import type { Runtime } from "./runtime.js";
import { sweepPageHandler } from "./sweepPage.js";

export type FunctionName = "keyVaultEvents" | "reconcile" | "sweepPage" | "remediateAlert" | "flushAudit";

export type FunctionDefinition =
  | {
      name: FunctionName;
      trigger: "eventGrid";
      handler: (event: unknown, context: InvocationContext) => Promise<unknown>;
    }
  | {
      name: FunctionName;
      trigger: "timer";
      /** NCRONTAB, six fields (seconds first). */
      schedule: string;
      handler: (timer: Timer | undefined, context: InvocationContext) => Promise<unknown>;
    }
  | {
      name: FunctionName;
      trigger: "storageQueue";
      queueName: string;
      /** The app setting (prefix) of the storage connection. */
      connection: string;
      handler: (message: unknown, context: InvocationContext) => Promise<unknown>;
    }
  | {
      name: FunctionName;
      trigger: "http";
      route: string;
      methods: HttpMethod[];
      authLevel: "function";
      handler: HttpHandler;
    };

export const DEFAULT_RUNTIME: Runtime = {
  env: process.env,
  // Every log line passes the redaction guard.
  log: (line) => console.log(safeLine(line)),
};

export function functionDefinitions(rt: Runtime = DEFAULT_RUNTIME): FunctionDefinition[] {
  const config = loadConfig(rt.env);
  return [
    { name: "keyVaultEvents", trigger: "eventGrid", handler: keyVaultEventsHandler(rt) },
    {
      name: "reconcile",
      trigger: "timer",
      schedule: config.reconcileSchedule,
      handler: reconcileHandler(rt),
    },
    {
      name: "sweepPage",
      trigger: "storageQueue",
      queueName: SWEEP_QUEUE,
      connection: "AzureWebJobsStorage",
      handler: sweepPageHandler(rt),
    },
    {
      name: "remediateAlert",
      trigger: "http",
      route: "alerts",
      methods: ["POST"],
      authLevel: "function",
      handler: remediateAlertHandler(rt),
    },
    {
      name: "flushAudit",
      trigger: "timer",
      schedule: config.flushAuditSchedule,
      handler: flushAuditHandler(rt),
    },
  ];
}
