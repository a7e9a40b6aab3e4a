/** Microsoft Graph: applications, service principals, agent identity blueprints and agent identities. */
import type { VirtualClock } from "../clock.js";
import type { Route } from "../http.js";
import type { DirectoryStore, SandboxContext } from "../types.js";

export function createDirectory(_opts: { clock: VirtualClock; defaultTenantId: string }): DirectoryStore {
  throw new Error("not yet built");
}

export function graphRoutes(_ctx: SandboxContext): Route[] {
  return [];
}
