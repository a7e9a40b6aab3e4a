/** Key Vault: certificates, the keys and secrets behind them. */
import type { VirtualClock } from "../clock.js";
import type { Route } from "../http.js";
import type { SandboxContext, VaultStore } from "../types.js";
import { keyVaultRoutesFor } from "./routes.js";
import { SandboxVault } from "./store.js";

export { API_VERSIONS, KEY_VAULT_RESOURCE } from "./routes.js";
export { SandboxVault } from "./store.js";

export function createVault(opts: {
  clock: VirtualClock;
  name: string;
  url: string;
  resourceId: string;
  log: (line: string) => void;
}): VaultStore {
  return new SandboxVault(opts);
}

export function keyVaultRoutes(ctx: SandboxContext): Route[] {
  if (!(ctx.vault instanceof SandboxVault))
    throw new Error("keyVaultRoutes needs the vault createVault made");
  return keyVaultRoutesFor(ctx, ctx.vault);
}
