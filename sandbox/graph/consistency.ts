/**
 * Entra is eventually consistent: "a successful write is not always visible to the next read"
 * (devblogs.microsoft.com/identity, designing for eventual consistency for Microsoft Entra).
 * With a `stale` fault on, a read sees each object as it was that many ms ago on the virtual clock.
 */
import type { SandboxContext } from "../types.js";
import { type DirObject, lagWrite, staleView } from "./directory.js";
import type { GraphRequest } from "./odata.js";

/** How a read sees objects: as they are, or as they were while a `stale` fault is on. */
export function readLag(ctx: SandboxContext, g: GraphRequest): (o: DirObject) => DirObject {
  const ms = ctx.faults.staleMs("graph", g.method, `/${g.version}${g.rawPath}`);
  if (ms <= 0) return (o) => o;
  const now = ctx.clock.now();
  return (o) => staleView(o, ms, now);
}

/** A Graph write to `o`: while a `stale` fault is on, the state before it stays visible to lagging reads. */
export function lagged<T>(ctx: SandboxContext, o: DirObject, write: () => T): T {
  if (!ctx.faults.staleOn()) return write();
  const replicated = lagWrite(o, ctx.clock.now(), ctx.faults.maxStaleMs());
  const out = write();
  replicated();
  return out;
}
