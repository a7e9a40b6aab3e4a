/** What the Graph routes keep per sandbox: the directory and the throttle's buckets. */
import type { SandboxContext } from "../types.js";
import { Directory } from "./directory.js";
import { GraphThrottle } from "./throttle.js";

export interface GraphState {
  dir: Directory;
  throttle: GraphThrottle;
}

const states = new WeakMap<SandboxContext, GraphState>();

export function graphState(ctx: SandboxContext): GraphState {
  let s = states.get(ctx);
  if (!s) {
    if (!(ctx.directory instanceof Directory))
      throw new Error("the Graph routes need the directory made by createDirectory()");
    s = { dir: ctx.directory, throttle: new GraphThrottle(ctx.clock) };
    states.set(ctx, s);
  }
  return s;
}
