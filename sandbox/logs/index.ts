/** Logs Ingestion API: data collection rule streams. */
import type { Route } from "../http.js";
import type { LogsStore, SandboxContext } from "../types.js";

export function createLogsStore(): LogsStore {
  throw new Error("not yet built");
}

export function logsRoutes(_ctx: SandboxContext): Route[] {
  return [];
}
