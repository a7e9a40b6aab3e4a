/** Key Vault: certificates, the keys and secrets behind them. */
import type { VirtualClock } from "../clock.js";
import type { Route } from "../http.js";
import type { SandboxContext, VaultStore } from "../types.js";

export function createVault(_opts: {
  clock: VirtualClock;
  name: string;
  url: string;
  resourceId: string;
  log: (line: string) => void;
}): VaultStore {
  throw new Error("not yet built");
}

export function keyVaultRoutes(_ctx: SandboxContext): Route[] {
  return [];
}
