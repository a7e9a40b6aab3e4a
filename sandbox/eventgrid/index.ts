/** Event Grid: the vault's system topic, delivering to subscribed webhooks. */
import type { SandboxContext } from "../types.js";

export class EventGridService {
  constructor(readonly ctx: SandboxContext) {}
  async close(): Promise<void> {}
}
