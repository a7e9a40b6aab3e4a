/**
 * The app management policies behind the renew-time lifetime check, read through the real Graph
 * SDK against the sandbox: once for as long as the reader's ttl, then again.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { keyLifetimeLimitReader } from "../../../shared/app.js";
import { GraphEdge } from "../../../shared/azure/graph.js";
import type { Target } from "../../../shared/core/model.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox({ seed: "demo" });

describe("keyLifetimeLimitReader with a ttl", () => {
  it("reads the policies once within the ttl and again after it", async () => {
    const h = sb();
    useSandboxIdentity(h);
    const client = new GraphEdge(h.urls.graphBaseUrl).client(
      new ManagedIdentityCredential({ clientId: h.ctx.managedIdentity.clientId }),
    );
    let now = 1_000_000;
    const limit = keyLifetimeLimitReader(client, { ttlMs: 60_000, now: () => now });
    const target: Target = {
      tenantId: h.urls.tenantId,
      id: "00000000-0000-4000-8000-0000000000ff",
      appId: "00000000-0000-4000-8000-0000000000fe",
      displayName: "target",
      type: "application",
      keyCredentials: [],
      passwordCredentials: [],
    };
    const graphReads = () => h.requestCounts.get().graph ?? 0;

    h.requestCounts.reset();
    await limit(target);
    const once = graphReads();
    expect(once).toBeGreaterThan(0);
    now += 59_999;
    await limit(target);
    expect(graphReads()).toBe(once);

    now += 1;
    await limit(target);
    expect(graphReads()).toBe(2 * once);
  });
});
