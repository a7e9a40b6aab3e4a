/** Seeds: `empty`, `demo` and `scale:N`. */
import type { SandboxContext } from "./types.js";

export type SeedName = "empty" | "demo" | `scale:${number}`;

export async function seedTenant(_ctx: SandboxContext, _seed: SeedName): Promise<void> {}
