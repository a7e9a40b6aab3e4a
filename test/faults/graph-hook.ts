/**
 * Wraps a Microsoft Graph client so a test sees each write (POST/PATCH/DELETE) before and after
 * it is sent: the sweep's "before a removal" and "after a removal" boundaries.
 */
import type { Client } from "@microsoft/microsoft-graph-client";

export type WriteBoundary = "before-removal" | "after-removal";

export function hookWrites(
  client: Client,
  hook: (b: WriteBoundary, path: string) => void | Promise<void>,
): Client {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== "api") return Reflect.get(target, prop, receiver);
      return (path: string) => {
        const request = target.api(path);
        return new Proxy(request, {
          get(r, p, rr) {
            const value = Reflect.get(r, p, rr);
            if ((p === "post" || p === "patch" || p === "delete") && typeof value === "function") {
              return async (...args: unknown[]) => {
                await hook("before-removal", path);
                const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(r, args);
                await hook("after-removal", path);
                return out;
              };
            }
            return typeof value === "function" ? value.bind(r) : value;
          },
        });
      };
    },
  });
}
