/** The sandbox's control API under /_sandbox. */
import type { EventGridService } from "../eventgrid/index.js";
import type { Route } from "../http.js";
import type { SeedName } from "../seeds.js";
import type { SandboxContext } from "../types.js";

export function controlRoutes(
  _ctx: SandboxContext,
  _deps: { eventGrid: EventGridService; reseed: (seed: SeedName) => Promise<void> },
): Route[] {
  return [];
}
